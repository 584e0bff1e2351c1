/* A program of another module: makes a Buffer Sink over a ring of its own
 * process through the installed headers and libraries, and prints its name.
 * SPDX-License-Identifier: GPL-3.0-or-later */
#include <doppler/ring.hpp>
#include <gnuradio/doppler/buffer_sink.h>

#include <iostream>

int main()
{
    auto ring = std::make_shared<doppler::ring<doppler::f32>>(4096);
    auto sink = gr::doppler::buffer_sink::make("f32", gr::doppler::ring_ref(ring));
    std::cout << sink->name() << std::endl;
    return 0;
}
