/*
 * bench_capi_baseline: the thinnest CPython extension over the C ABI
 * (dp_buffer_f32_*), the yardstick apps/bench_python.py holds
 * doppler.buffer.F32Buffer against.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 *     Buffer(capacity).write(arr) -> bool     METH_O, 1-D contiguous complex64
 *     Buffer.wait(n) -> ndarray               METH_O, blocks forever, view based on self
 *     Buffer.consume(n=last wait)             METH_FASTCALL
 *
 * Only what the benchmark loop needs: no timeouts, no GIL release, no
 * signal checks, no keyword parsing. Any per-call cost doppler.buffer has
 * beyond this is overhead of its own.
 */
#define PY_SSIZE_T_CLEAN
#define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION
#include <Python.h>
#include <numpy/arrayobject.h>

#include <doppler/buffer.h>

typedef struct {
    PyObject_HEAD dp_buffer_f32_t* buf;
    size_t last;
} Buffer;

static int Buffer_init(Buffer* self, PyObject* args, PyObject* kw)
{
    Py_ssize_t capacity;
    (void)kw;
    if (!PyArg_ParseTuple(args, "n", &capacity))
        return -1;
    self->buf = dp_buffer_f32_create((size_t)capacity);
    if (!self->buf) {
        PyErr_SetString(PyExc_OSError, dp_last_error());
        return -1;
    }
    return 0;
}

static void Buffer_dealloc(Buffer* self)
{
    if (self->buf)
        dp_buffer_f32_destroy(self->buf);
    Py_TYPE(self)->tp_free((PyObject*)self);
}

static PyObject* Buffer_write(Buffer* self, PyObject* arg)
{
    PyArrayObject* a = (PyArrayObject*)arg;
    if (!PyArray_Check(arg) || PyArray_TYPE(a) != NPY_COMPLEX64 || PyArray_NDIM(a) != 1 ||
        !PyArray_IS_C_CONTIGUOUS(a)) {
        PyErr_SetString(PyExc_TypeError, "expected a contiguous 1-D complex64 array");
        return NULL;
    }
    return PyBool_FromLong(
        dp_buffer_f32_write(self->buf, PyArray_DATA(a), (size_t)PyArray_DIM(a, 0)));
}

static PyObject* Buffer_wait(Buffer* self, PyObject* arg)
{
    Py_ssize_t n = PyLong_AsSsize_t(arg);
    if (n == -1 && PyErr_Occurred())
        return NULL;
    const dp_f32_t* data = dp_buffer_f32_wait(self->buf, (size_t)n, -1);
    if (!data)
        return PyErr_SetFromErrno(PyExc_OSError);
    npy_intp dims[1] = { n };
    PyObject* view = PyArray_NewFromDescr(&PyArray_Type,
                                          PyArray_DescrFromType(NPY_COMPLEX64),
                                          1,
                                          dims,
                                          NULL,
                                          (void*)data,
                                          NPY_ARRAY_C_CONTIGUOUS | NPY_ARRAY_ALIGNED,
                                          NULL);
    if (!view)
        return NULL;
    Py_INCREF(self);
    if (PyArray_SetBaseObject((PyArrayObject*)view, (PyObject*)self) < 0) {
        Py_DECREF(view);
        return NULL;
    }
    self->last = (size_t)n;
    return view;
}

static PyObject* Buffer_consume(Buffer* self, PyObject* const* args, Py_ssize_t nargs)
{
    size_t n = self->last;
    if (nargs > 0) {
        Py_ssize_t v = PyLong_AsSsize_t(args[0]);
        if (v == -1 && PyErr_Occurred())
            return NULL;
        n = (size_t)v;
    }
    if (!dp_buffer_f32_consume(self->buf, n)) {
        PyErr_SetString(PyExc_ValueError, "consume: more than is readable");
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyMethodDef Buffer_methods[] = {
    { "write", (PyCFunction)Buffer_write, METH_O, "write(arr) -> bool" },
    { "wait", (PyCFunction)Buffer_wait, METH_O, "wait(n) -> ndarray" },
    { "consume",
      (PyCFunction)(void (*)(void))Buffer_consume,
      METH_FASTCALL,
      "consume(n=last wait)" },
    { NULL, NULL, 0, NULL },
};

static PyTypeObject BufferType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "bench_capi_baseline.Buffer",
    .tp_basicsize = sizeof(Buffer),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "f32 ring over the C ABI, for benchmarking",
    .tp_methods = Buffer_methods,
    .tp_init = (initproc)Buffer_init,
    .tp_new = PyType_GenericNew,
    .tp_dealloc = (destructor)Buffer_dealloc,
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    "bench_capi_baseline",
    "Raw C-API baseline for bench_python.py",
    -1,
    NULL,
};

PyMODINIT_FUNC PyInit_bench_capi_baseline(void)
{
    import_array();
    if (PyType_Ready(&BufferType) < 0)
        return NULL;
    PyObject* m = PyModule_Create(&module);
    if (!m)
        return NULL;
    Py_INCREF(&BufferType);
    if (PyModule_AddObject(m, "Buffer", (PyObject*)&BufferType) < 0) {
        Py_DECREF(&BufferType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
