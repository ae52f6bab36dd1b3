#include "tapegrad/distributed.hpp"

#include "tapegrad/detail/shape.hpp"

#include <fmt/format.h>
#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>

namespace tapegrad::distributed {

namespace {

void check(int status, const char* call) {
    if (status != MPI_SUCCESS) {
        char text[MPI_MAX_ERROR_STRING];
        int length = 0;
        MPI_Error_string(status, text, &length);
        throw DistributedError(fmt::format("{}: {}", call, std::string(text, std::size_t(length))));
    }
}

} // namespace

ProcessGroup::ProcessGroup() {
    int initialized = 0;
    MPI_Initialized(&initialized);
    if (!initialized) {
        int provided = 0;
        check(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
        finalize_ = true;
    }
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
}

ProcessGroup::~ProcessGroup() {
    if (finalize_) MPI_Finalize();
}

void ProcessGroup::broadcast(const std::vector<Tensor<float>>& tensors) const {
    for (const Tensor<float>& tensor : tensors) {
        Tensor<float> target = tensor;
        check(MPI_Bcast(target.mutable_data(), int(target.size()), MPI_FLOAT, 0, MPI_COMM_WORLD),
              "MPI_Bcast");
    }
}

void ProcessGroup::broadcast(std::string& bytes) const {
    unsigned long long size = bytes.size();
    check(MPI_Bcast(&size, 1, MPI_UNSIGNED_LONG_LONG, 0, MPI_COMM_WORLD), "MPI_Bcast");
    bytes.resize(size);
    // In pieces below 2^31 bytes, MPI's count limit.
    constexpr std::size_t piece = std::size_t(1) << 30;
    for (std::size_t first = 0; first < bytes.size(); first += piece) {
        const int count = int(std::min(piece, bytes.size() - first));
        check(MPI_Bcast(bytes.data() + first, count, MPI_CHAR, 0, MPI_COMM_WORLD), "MPI_Bcast");
    }
}

void ProcessGroup::sum(std::vector<double>& values) const {
    check(MPI_Allreduce(MPI_IN_PLACE, values.data(), int(values.size()), MPI_DOUBLE, MPI_SUM,
                        MPI_COMM_WORLD),
          "MPI_Allreduce");
}

void ProcessGroup::average(const std::vector<Tensor<float>>& tensors) const {
    for (const Tensor<float>& tensor : tensors) {
        Tensor<float> target = tensor;
        float* values = target.mutable_data();
        check(MPI_Allreduce(MPI_IN_PLACE, values, int(target.size()), MPI_FLOAT, MPI_SUM,
                            MPI_COMM_WORLD),
              "MPI_Allreduce");
        for (std::size_t i = 0; i < target.size(); ++i) values[i] /= float(size_);
    }
}

void ProcessGroup::check_same(const std::string& what, const std::string& description) const {
    const int length = int(description.size());
    std::vector<int> lengths(static_cast<std::size_t>(size_)), offsets(lengths.size());
    check(MPI_Allgather(&length, 1, MPI_INT, lengths.data(), 1, MPI_INT, MPI_COMM_WORLD),
          "MPI_Allgather");
    int total = 0;
    for (std::size_t r = 0; r < lengths.size(); ++r) offsets[r] = total, total += lengths[r];
    std::string all(std::size_t(total), '\0');
    check(MPI_Allgatherv(description.data(), length, MPI_CHAR, all.data(), lengths.data(),
                         offsets.data(), MPI_CHAR, MPI_COMM_WORLD),
          "MPI_Allgatherv");
    const auto of = [&](std::size_t r) {
        return all.substr(std::size_t(offsets[r]), std::size_t(lengths[r]));
    };
    for (std::size_t r = 1; r < lengths.size(); ++r) {
        if (of(r) != of(0)) {
            throw DistributedError(fmt::format("the {} differs between processes: rank 0 has {}, "
                                               "rank {} has {}",
                                               what, of(0), r, of(r)));
        }
    }
}

void ProcessGroup::abort(int exit_code) const {
    MPI_Abort(MPI_COMM_WORLD, exit_code);
    std::abort(); // MPI_Abort does not return; this tells the compiler so
}

// --- GradientReducer -----------------------------------------------------------------------

namespace {

struct Bucket {
    std::vector<std::size_t> parameters; // indices into the reducer's parameters
    std::vector<std::size_t> offsets;    // of each parameter's gradient in `values`
    std::vector<float> values;
    std::size_t arrived = 0;
    bool started = false;
    MPI_Request request = MPI_REQUEST_NULL;
};

} // namespace

struct GradientReducer::State {
    const ProcessGroup& group;
    std::vector<Tensor<float>> parameters;
    ReducerOptions options;
    std::vector<Bucket> buckets;
    std::vector<std::size_t> bucket_of, slot_of; // per parameter
    std::vector<bool> arrived;                   // per parameter, in this step
    std::size_t next_to_start = 0;
    std::vector<HookHandle> hooks;
    ReducerStats stats;

    State(const ProcessGroup& g, std::vector<Tensor<float>> p, ReducerOptions o)
        : group(g), parameters(std::move(p)), options(o), bucket_of(parameters.size()),
          slot_of(parameters.size()), arrived(parameters.size()) {
        std::size_t bytes = options.bucket_bytes;
        for (std::size_t k = parameters.size(); k-- > 0;) {
            const std::size_t size = parameters[k].size();
            if (buckets.empty() || bytes + size * sizeof(float) > options.bucket_bytes) {
                buckets.emplace_back();
                bytes = 0;
            }
            Bucket& bucket = buckets.back();
            bucket_of[k] = buckets.size() - 1;
            slot_of[k] = bucket.parameters.size();
            bucket.parameters.push_back(k);
            bucket.offsets.push_back(bucket.values.size());
            bucket.values.resize(bucket.values.size() + size);
            bytes += size * sizeof(float);
        }
    }

    void copy_gradient(std::size_t k) {
        Bucket& bucket = buckets[bucket_of[k]];
        float* out = bucket.values.data() + bucket.offsets[slot_of[k]];
        const Tensor<float>& p = parameters[k];
        if (p.has_grad()) {
            const Tensor<float> g = p.grad();
            std::copy(g.data(), g.data() + g.size(), out);
        } else {
            std::fill(out, out + p.size(), 0.0f);
        }
    }

    /// The post-accumulate hook of parameter k.
    void arrive(std::size_t k) {
        Bucket& bucket = buckets[bucket_of[k]];
        if (bucket.started) {
            throw DistributedError(fmt::format(
                "GradientReducer: parameter {} of shape {} received another gradient after "
                "its bucket was sent; call finish() after every backward",
                k, detail::format_shape(parameters[k].shape())));
        }
        copy_gradient(k);
        if (!arrived[k]) {
            arrived[k] = true;
            ++bucket.arrived;
        }
        if (options.overlap) {
            start_full_buckets();
            progress();
        }
    }

    void start(Bucket& bucket) {
        check(MPI_Iallreduce(MPI_IN_PLACE, bucket.values.data(), int(bucket.values.size()),
                             MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD, &bucket.request),
              "MPI_Iallreduce");
        bucket.started = true;
    }

    /// Starts buckets in their fixed order, as far as they are full: every rank issues the
    /// same sequence of collectives, as MPI requires.
    void start_full_buckets() {
        while (next_to_start < buckets.size() &&
               buckets[next_to_start].arrived == buckets[next_to_start].parameters.size()) {
            start(buckets[next_to_start++]);
        }
    }

    /// Lets MPI move the started all-reduces along (it progresses them only inside calls).
    void progress() {
        for (std::size_t b = 0; b < next_to_start; ++b) {
            int done = 0;
            check(MPI_Test(&buckets[b].request, &done, MPI_STATUS_IGNORE), "MPI_Test");
        }
    }

    void finish() {
        for (; next_to_start < buckets.size(); ++next_to_start) {
            Bucket& bucket = buckets[next_to_start];
            for (const std::size_t k : bucket.parameters) {
                if (!arrived[k]) copy_gradient(k);
            }
            start(bucket);
        }
        const auto wait_start = std::chrono::steady_clock::now();
        for (Bucket& bucket : buckets) {
            check(MPI_Wait(&bucket.request, MPI_STATUS_IGNORE), "MPI_Wait");
        }
        stats.wait_seconds +=
            std::chrono::duration<double>(std::chrono::steady_clock::now() - wait_start).count();
        ++stats.steps;

        const float scale = 1.0f / float(group.size());
        for (Bucket& bucket : buckets) {
            for (std::size_t slot = 0; slot < bucket.parameters.size(); ++slot) {
                Tensor<float>& p = parameters[bucket.parameters[slot]];
                const float* mean = bucket.values.data() + bucket.offsets[slot];
                Tensor<float> g = p.has_grad() ? p.grad() : Tensor<float>::zeros(p.shape());
                float* out = g.mutable_data();
                for (std::size_t i = 0; i < g.size(); ++i) out[i] = mean[i] * scale;
                if (!p.has_grad()) p.set_grad(g);
            }
            bucket.arrived = 0;
            bucket.started = false;
        }
        std::fill(arrived.begin(), arrived.end(), false);
        next_to_start = 0;
    }
};

GradientReducer::GradientReducer(const ProcessGroup& group, std::vector<Tensor<float>> parameters,
                                 ReducerOptions options)
    : state_(std::make_unique<State>(group, std::move(parameters), options)) {
    for (std::size_t k = 0; k < state_->parameters.size(); ++k) {
        state_->hooks.push_back(state_->parameters[k].register_post_accumulate_grad_hook(
            [state = state_.get(), k](Tensor<float>&) { state->arrive(k); }));
    }
}

GradientReducer::~GradientReducer() {
    for (HookHandle& hook : state_->hooks) hook.remove();
}

void GradientReducer::finish() {
    state_->finish();
}

std::size_t GradientReducer::bucket_count() const {
    return state_->buckets.size();
}

const ReducerStats& GradientReducer::stats() const {
    return state_->stats;
}

} // namespace tapegrad::distributed
