#pragma once
// Saving and loading a module's parameters and buffers as a NumPy .npz archive (float32
// arrays named as in named_state(), readable with np.load). Entries whose names start with
// "meta." or "optimizer." describe a run rather than the module (tapegrad-train's model files
// and checkpoints carry them) and are skipped when loading.

#include "tapegrad/io/npz.hpp"
#include "tapegrad/nn/module.hpp"

#include <string>
#include <vector>

namespace tapegrad::nn {

template <class T> void save_parameters(Module<T>& module, const std::string& path);

/// Replaces the module's parameter and buffer values with the file's. Checks everything
/// first: a missing, extra, or differently shaped entry, or a corrupt file, throws
/// FormatError naming the tensor and the shapes, and the module is left unchanged.
template <class T> void load_parameters(Module<T>& module, const std::string& path);

/// The module's parameters and buffers as float32 arrays named as in named_state().
template <class T> std::vector<io::NamedArray> state_arrays(Module<T>& module);

/// load_parameters on arrays already read; `source` names them in errors.
template <class T>
void load_state_arrays(Module<T>& module, const std::vector<io::NamedArray>& arrays,
                       const std::string& source);

} // namespace tapegrad::nn
