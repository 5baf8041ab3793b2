// The Python extension module deepinit._C. It defines nothing: importing it loads this shared
// library, whose static initializers register the torch.ops.deepinit ops. (The CMake build makes
// the same library without this file, for torch.ops.load_library.)
#include <Python.h>

extern "C" {
PyObject* PyInit__C(void) {
  static struct PyModuleDef module_def = {PyModuleDef_HEAD_INIT, "_C", nullptr, -1, nullptr};
  return PyModule_Create(&module_def);
}
}
