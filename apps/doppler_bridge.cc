/* -*- c++ -*- */
/*
 * doppler-bridge: a ring on one host read on another through ZeroMQ, wire
 * compatible with GNU Radio's ZMQ blocks. The program lives in lib/bridge
 * (bridge.hpp); docs/bridge.md says how to use it.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "bridge.hpp"

int main(int argc, char** argv)
{
    return doppler::bridge::cli_main(argc, argv);
}
