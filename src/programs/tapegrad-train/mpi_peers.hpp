#pragma once
// Data-parallel training over MPI for tapegrad-train (built with TAPEGRAD_DISTRIBUTED).

#include "options.hpp"
#include "trainer.hpp"

#include <functional>

namespace tapegrad::train {

/// Runs `train` as one of the processes that mpirun started: rank 0 alone prints and writes
/// files. When any process fails, it reports its rank and the cause and ends the whole job,
/// so no process waits forever for it.
int train_distributed(const Options& options, const std::function<int(Peers&)>& train);

} // namespace tapegrad::train
