#pragma once
// Data-parallel training over MPI: every process holds the whole model and computes the
// gradient of its shard of each batch; a GradientReducer averages the gradients over the
// processes while backward is still running, so the optimizer steps identically everywhere.
// Built when CMake's TAPEGRAD_DISTRIBUTED option is on (target tapegrad::distributed).

#include "tapegrad/errors.hpp"
#include "tapegrad/tensor.hpp"

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

namespace tapegrad::distributed {

/// The processes disagree (another model, another recipe) or MPI cannot be used.
class DistributedError : public Error {
public:
    using Error::Error;
};

/// All processes of the job (MPI_COMM_WORLD). Initialises MPI unless something else did
/// (only the thread that made the group calls MPI; kernels may use OpenMP threads), and
/// finalises it when destroyed if it initialised it.
class ProcessGroup {
public:
    ProcessGroup();
    ~ProcessGroup();
    ProcessGroup(const ProcessGroup&) = delete;
    ProcessGroup& operator=(const ProcessGroup&) = delete;

    int rank() const { return rank_; }
    int size() const { return size_; }

    /// Overwrites every tensor's value with rank 0's (values only; no graph is recorded).
    void broadcast(const std::vector<Tensor<float>>& tensors) const;
    /// Replaces `bytes` with rank 0's bytes on every rank.
    void broadcast(std::string& bytes) const;
    /// Sums `values` elementwise over the ranks, in place.
    void sum(std::vector<double>& values) const;
    /// Replaces every tensor's value with its mean over the ranks.
    void average(const std::vector<Tensor<float>>& tensors) const;
    /// Throws DistributedError on every rank unless all ranks pass the same `description`
    /// of `what`; the message names the first rank that differs and both descriptions.
    void check_same(const std::string& what, const std::string& description) const;
    /// Ends every process of the job at once with `exit_code`: for a rank that cannot go on
    /// while the others may be waiting for it in a collective operation.
    [[noreturn]] void abort(int exit_code) const;

private:
    bool finalize_ = false;
    int rank_ = 0, size_ = 1;
};

struct ReducerOptions {
    /// Gradients are averaged in buckets of about this many bytes (a parameter larger than
    /// a bucket gets one of its own).
    std::size_t bucket_bytes = std::size_t(1) << 20;
    /// Start each bucket's all-reduce as soon as backward has filled it (true), or all of
    /// them after backward (false: for measuring what the overlap saves).
    bool overlap = true;
};

struct ReducerStats {
    std::size_t steps = 0;
    /// Time finish() spent blocked on all-reduces that had not completed yet.
    double wait_seconds = 0;
};

/// Averages the gradients of `parameters` over the ranks after every backward. Buckets
/// take the parameters in reverse order (the order in which backward usually completes
/// them); a leaf's post-accumulate hook copies its gradient into its bucket, and a full
/// bucket starts a non-blocking all-reduce. Buckets start in a fixed order on every rank,
/// so results are deterministic for a given number of processes.
class GradientReducer {
public:
    GradientReducer(const ProcessGroup& group, std::vector<Tensor<float>> parameters,
                    ReducerOptions options = {});
    ~GradientReducer();
    GradientReducer(const GradientReducer&) = delete;
    GradientReducer& operator=(const GradientReducer&) = delete;

    /// Waits for every bucket and writes the averaged gradients into grad(). Call between
    /// backward and the optimizer step; a parameter that backward did not reach counts as
    /// a zero gradient.
    void finish();

    std::size_t bucket_count() const;
    const ReducerStats& stats() const;

private:
    struct State;
    std::unique_ptr<State> state_;
};

} // namespace tapegrad::distributed
