#pragma once
// Saving and loading a module's parameters as a NumPy .npz archive (float32 arrays named
// as in named_parameters(), readable with np.load).

#include "tapegrad/nn/module.hpp"

#include <string>

namespace tapegrad::nn {

template <class T> void save_parameters(Module<T>& module, const std::string& path);

/// Replaces the module's parameter values with the file's. Checks everything first: a
/// missing, extra, or differently shaped entry, or a corrupt file, throws FormatError naming
/// the tensor and the shapes, and the module is left unchanged.
template <class T> void load_parameters(Module<T>& module, const std::string& path);

} // namespace tapegrad::nn
