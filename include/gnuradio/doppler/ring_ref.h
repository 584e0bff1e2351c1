/* -*- c++ -*- */
/*
 * gr-doppler: a ring handed to a block by its owner in the same process.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#ifndef INCLUDED_DOPPLER_RING_REF_H
#define INCLUDED_DOPPLER_RING_REF_H

#include <doppler/ring.hpp>
#include <memory>
#include <variant>

namespace gr {
namespace doppler {

/*!
 * \brief One of the three ring types, shared with whoever else holds it.
 *
 * This is how a block gets a ring that already lives in this process, e.g. a
 * doppler.buffer F32Buffer / F64Buffer / I16Buffer created from Python: the
 * block and the Python object share one ring handle (one producer side, one
 * consumer side), so no name and no /dev/shm object is involved.
 */
using ring_ref = std::variant<std::shared_ptr<::doppler::ring<::doppler::f32>>,
                              std::shared_ptr<::doppler::ring<::doppler::f64>>,
                              std::shared_ptr<::doppler::ring<::doppler::i16>>>;

} // namespace doppler
} // namespace gr

#endif /* INCLUDED_DOPPLER_RING_REF_H */
