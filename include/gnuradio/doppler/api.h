/* -*- c++ -*- */
/*
 * gr-doppler: symbol visibility for libgnuradio-doppler.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#ifndef INCLUDED_DOPPLER_API_H
#define INCLUDED_DOPPLER_API_H

#include <gnuradio/attributes.h>

// CMake defines gnuradio_doppler_EXPORTS while building the library itself.
#ifdef gnuradio_doppler_EXPORTS
#define DOPPLER_API __GR_ATTR_EXPORT
#else
#define DOPPLER_API __GR_ATTR_IMPORT
#endif

#endif /* INCLUDED_DOPPLER_API_H */
