// The workloads of bench_tapegrad.cpp written against LibTorch's C++ API, for side-by-side
// ratios (docs/performance.md). Built only with -DTAPEGRAD_BENCH_LIBTORCH=ON.

#include "libtorch_nets.hpp"
#include "workloads.hpp"

#include <benchmark/benchmark.h>
#include <sys/resource.h>
#include <torch/torch.h>

extern "C" void openblas_set_num_threads(int threads);

namespace tapegrad::bench {
namespace {

// LibTorch's intra-op pool and OpenBLAS both take the thread count.
void set_threads(int threads) {
    torch::set_num_threads(threads);
    openblas_set_num_threads(threads);
}

double peak_rss_mib() {
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    return double(usage.ru_maxrss) / 1024.0; // ru_maxrss is in KiB on Linux
}

std::vector<int64_t> chain_shape(const benchmark::State& state) {
    return state.range(0) == 1 ? std::vector<int64_t>{1}
                               : std::vector<int64_t>{state.range(0), state.range(0)};
}

torch::Tensor chain(const torch::Tensor& x0, const torch::Tensor& a, const torch::Tensor& b) {
    torch::Tensor x = x0;
    for (int i = 0; i < chain_repeats; ++i) x = torch::relu(torch::tanh(x * a + b));
    return x;
}

struct ChainInputs {
    torch::Tensor x0, a, b;
    explicit ChainInputs(const std::vector<int64_t>& shape) {
        torch::manual_seed(1);
        x0 = torch::randn(shape).requires_grad_(true);
        a = 0.5 * torch::randn(shape);
        b = 0.5 * torch::randn(shape);
    }
};

void set_ns_per_op(benchmark::State& state) {
    state.counters["ns_per_op"] =
        benchmark::Counter(double(chain_ops), benchmark::Counter::kIsIterationInvariantRate |
                                                  benchmark::Counter::kInvert);
}

void BM_ChainForwardRecording(benchmark::State& state) {
    set_threads(1);
    ChainInputs in(chain_shape(state));
    for (auto _ : state) {
        torch::Tensor y = chain(in.x0, in.a, in.b);
        benchmark::DoNotOptimize(y.data_ptr());
        state.PauseTiming();
        y = torch::Tensor();
        state.ResumeTiming();
    }
    set_ns_per_op(state);
}

void BM_ChainBackward(benchmark::State& state) {
    set_threads(1);
    ChainInputs in(chain_shape(state));
    const torch::Tensor seed = torch::ones(chain_shape(state));
    for (auto _ : state) {
        state.PauseTiming();
        torch::Tensor y = chain(in.x0, in.a, in.b);
        state.ResumeTiming();
        y.backward(seed);
        state.PauseTiming();
        y = torch::Tensor();
        in.x0.mutable_grad().zero_();
        state.ResumeTiming();
    }
    set_ns_per_op(state);
}

void BM_ChainForwardBackward(benchmark::State& state) {
    set_threads(1);
    ChainInputs in(chain_shape(state));
    const torch::Tensor seed = torch::ones(chain_shape(state));
    for (auto _ : state) {
        torch::Tensor y = chain(in.x0, in.a, in.b);
        y.backward(seed);
        in.x0.mutable_grad().zero_();
    }
    set_ns_per_op(state);
}

void BM_ChainForwardNoGrad(benchmark::State& state) {
    set_threads(1);
    ChainInputs in(chain_shape(state));
    torch::NoGradGuard no_grad;
    for (auto _ : state) {
        torch::Tensor y = chain(in.x0, in.a, in.b);
        benchmark::DoNotOptimize(y.data_ptr());
    }
    set_ns_per_op(state);
}

void BM_MlpStep(benchmark::State& state) {
    set_threads(int(state.range(0)));
    torch::manual_seed(2);
    const int64_t S = mlp_batch, in = mlp_in, hidden = mlp_hidden, classes = mlp_classes;
    const torch::Tensor x = torch::randn({S, in});
    const torch::Tensor labels = torch::randint(0, classes, {S}, torch::kLong);
    const float s1 = 1.0f / std::sqrt(float(in)), s2 = 1.0f / std::sqrt(float(hidden));
    std::vector<torch::Tensor> parameters{(s1 * torch::randn({hidden, in})).requires_grad_(),
                                          (s1 * torch::randn({hidden})).requires_grad_(),
                                          (s2 * torch::randn({hidden, hidden})).requires_grad_(),
                                          (s2 * torch::randn({hidden})).requires_grad_(),
                                          (s2 * torch::randn({classes, hidden})).requires_grad_(),
                                          (s2 * torch::randn({classes})).requires_grad_()};
    torch::optim::SGD sgd(parameters, torch::optim::SGDOptions(mlp_learning_rate));
    for (auto _ : state) {
        sgd.zero_grad();
        const auto& p = parameters;
        const torch::Tensor h1 = torch::relu(torch::nn::functional::linear(x, p[0], p[1]));
        const torch::Tensor h2 = torch::relu(torch::nn::functional::linear(h1, p[2], p[3]));
        torch::Tensor loss = torch::nn::functional::cross_entropy(
            torch::nn::functional::linear(h2, p[4], p[5]), labels);
        loss.backward();
        sgd.step();
        benchmark::DoNotOptimize(loss.data_ptr());
    }
    state.counters["peak_rss_MiB"] = peak_rss_mib();
    set_threads(1);
}

void BM_GemmLinearForwardBackward(benchmark::State& state) {
    set_threads(int(state.range(0)));
    torch::manual_seed(4);
    const int64_t n = gemm_size;
    const torch::Tensor x = torch::randn({n, n}).requires_grad_();
    const torch::Tensor w = (0.03 * torch::randn({n, n})).requires_grad_();
    const torch::Tensor seed = torch::randn({n, n});
    for (auto _ : state) {
        torch::Tensor y = torch::nn::functional::linear(x, w);
        y.backward(seed);
        benchmark::DoNotOptimize(y.data_ptr());
    }
    set_threads(1);
}

// CNN training steps (workloads.hpp, 5), the same nets as bench_tapegrad's.
void BM_CnnStep(benchmark::State& state) {
    set_threads(int(state.range(0)));
    torch::manual_seed(5);
    torch::nn::Sequential model = make_cnn_net(CnnNet(state.range(1)));
    const torch::Tensor x = torch::randn({int64_t(cnn_batch), int64_t(cnn_side * cnn_side)});
    const torch::Tensor labels =
        torch::arange(int64_t(cnn_batch), torch::kLong).remainder(int64_t(cnn_classes));
    torch::optim::SGD sgd(model->parameters(), torch::optim::SGDOptions(0.01));
    for (auto _ : state) {
        sgd.zero_grad();
        torch::Tensor loss = torch::nn::functional::cross_entropy(model->forward(x), labels);
        loss.backward();
        sgd.step();
        benchmark::DoNotOptimize(loss.data_ptr());
    }
    state.counters["peak_rss_MiB"] = peak_rss_mib();
    set_threads(1);
}

void BM_Conv2dForwardBackward(benchmark::State& state) {
    set_threads(int(state.range(0)));
    torch::manual_seed(7);
    const int64_t n = conv_batch, c = conv_in, o = conv_out, s = conv_side;
    const torch::Tensor x = torch::randn({n, c, s, s}).requires_grad_(true);
    const torch::Tensor w = (0.05 * torch::randn({o, c, 3, 3})).requires_grad_(true);
    const torch::Tensor seed = torch::randn({n, o, s, s});
    for (auto _ : state) {
        torch::Tensor y = torch::conv2d(x, w, {}, 1, 1);
        y.backward(seed);
        benchmark::DoNotOptimize(y.data_ptr());
    }
    set_threads(1);
}

BENCHMARK(BM_ChainForwardRecording)->Arg(1)->Arg(8)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_ChainBackward)->Arg(1)->Arg(8)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_ChainForwardBackward)->Arg(1)->Arg(8)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_ChainForwardNoGrad)->Arg(1)->Arg(8)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_MlpStep)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_CnnStep)->ArgsProduct({{1, 2}, {0, 1}})->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Conv2dForwardBackward)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_GemmLinearForwardBackward)
    ->Arg(1)
    ->Arg(2)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

} // namespace
} // namespace tapegrad::bench

BENCHMARK_MAIN();
