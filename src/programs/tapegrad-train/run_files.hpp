#pragma once
// The files a run leaves: model.npz, the trained model with what is needed to use it, and
// checkpoint.npz, everything needed to continue the run exactly. Their entries are listed in
// docs/training.md.

#include "metrics.hpp"
#include "options.hpp"
#include "trainer.hpp"

#include "tapegrad/data/loader.hpp"
#include "tapegrad/io/npz.hpp"

#include <string>
#include <vector>

namespace tapegrad::train {

/// What the model was trained on and how its inputs were prepared.
struct ModelInputs {
    data::Normalization normalization;
    std::size_t features = 0, classes = 0;
};

/// Where a run stands: what a checkpoint adds to the model.
struct RunState {
    int epochs_done = 0;
    History history;
};

/// Writes model.npz: the model's tensors under PyTorch's names ("0.weight", ...) and the
/// meta.* entries (recipe, architecture, normalisation, sizes).
void save_model(const std::string& path, Trainer& trainer, const Options& options,
                const ModelInputs& inputs);

/// Writes checkpoint.npz: model.npz's entries, the optimizer's state, the state of every
/// random generator and the run's history. Atomic: a killed run keeps the previous one.
void save_checkpoint(const std::string& path, Trainer& trainer, const Options& options,
                     const ModelInputs& inputs, const RunState& state);

/// A model file or a checkpoint, read.
class RunFile {
public:
    /// Parses the bytes of a file; `source` names it in errors. Throws FormatError.
    RunFile(const std::string& bytes, std::string source);

    bool is_checkpoint() const;
    /// The options the model was trained with.
    Options recipe() const;
    ModelInputs inputs() const;
    /// Loads the model's tensors into the trainer and, from a checkpoint, the optimizer's
    /// state and the random generators; returns the run's state (nothing done for a model
    /// file). Throws FormatError naming the entry when the file does not fit the model.
    RunState restore(Trainer& trainer) const;

private:
    const io::NamedArray* find(const std::string& name) const;
    const io::NamedArray& at(const std::string& name) const;
    std::string text(const std::string& name) const;

    std::vector<io::NamedArray> arrays_;
    std::string source_;
};

} // namespace tapegrad::train
