#include "mpi_peers.hpp"

#include "tapegrad/distributed.hpp"

#include <fmt/format.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>

namespace tapegrad::train {

namespace {

std::optional<std::size_t> step_from_environment(const char* name) {
    const char* text = std::getenv(name);
    if (!text || !*text) return std::nullopt;
    return std::size_t(std::strtoull(text, nullptr, 10));
}

class MpiPeers final : public Peers {
public:
    MpiPeers(const distributed::ProcessGroup& group, distributed::ReducerOptions options)
        : group_(group), options_(options) {}

    std::size_t rank() const override { return std::size_t(group_.rank()); }
    std::size_t size() const override { return std::size_t(group_.size()); }

    void join(nn::Sequential<float>& model) override {
        std::string description = model.describe();
        for (const auto& p : model.named_state()) {
            description += fmt::format(" {}({})", p.name, fmt::join(p.tensor->shape(), ","));
        }
        group_.check_same("model", description);
        std::vector<Tensor<float>> state;
        for (const auto& p : model.named_state()) state.push_back(*p.tensor);
        group_.broadcast(state);
        reducer_ =
            std::make_unique<distributed::GradientReducer>(group_, model.parameters(), options_);
    }
    void average_gradients() override {
        ++steps_;
        if (fail_at_step_ && steps_ == *fail_at_step_) {
            throw Error(fmt::format("failing at step {} as TAPEGRAD_FAIL_AT_STEP asks (a fault "
                                    "drill)",
                                    steps_));
        }
        reducer_->finish();
    }
    void average(const std::vector<Tensor<float>>& tensors) override { group_.average(tensors); }
    void sum(std::vector<double>& values) override { group_.sum(values); }
    void broadcast(std::string& bytes) override { group_.broadcast(bytes); }
    void check_same(const std::string& what, const std::string& description) override {
        group_.check_same(what, description);
    }
    std::string report() const override {
        const distributed::ReducerStats& stats = reducer_->stats();
        return fmt::format("communication: rank 0 waited {:.2f} s for gradients in {} steps "
                           "({:.2f} ms per step, {} bucket(s), overlap {})",
                           stats.wait_seconds, stats.steps,
                           stats.steps ? 1e3 * stats.wait_seconds / double(stats.steps) : 0.0,
                           reducer_->bucket_count(), options_.overlap ? "on" : "off");
    }

private:
    const distributed::ProcessGroup& group_;
    distributed::ReducerOptions options_;
    std::unique_ptr<distributed::GradientReducer> reducer_;
    std::size_t steps_ = 0;
    std::optional<std::size_t> fail_at_step_ = step_from_environment("TAPEGRAD_FAIL_AT_STEP");
};

} // namespace

int train_distributed(const Options& options, const std::function<int(Peers&)>& train) {
    const distributed::ProcessGroup group;
    if (group.rank() != 0 && !std::freopen("/dev/null", "w", stdout)) {
        fmt::print(stderr, "tapegrad-train: rank {}: cannot silence standard output\n",
                   group.rank());
    }
    distributed::ReducerOptions reducer;
    reducer.bucket_bytes = std::size_t(options.bucket_mb * double(1 << 20));
    reducer.overlap = options.overlap;
    MpiPeers peers(group, reducer);
    try {
        return train(peers);
    } catch (const std::exception& error) {
        // The other processes may be blocked in a collective operation with this one: end
        // them all rather than leave them waiting.
        fmt::print(stderr, "tapegrad-train: rank {} of {}: {}\n", group.rank(), group.size(),
                   error.what());
        std::fflush(stderr);
        group.abort(2);
    }
}

} // namespace tapegrad::train
