// tapegrad's side of the performance suite (docs/performance.md); bench_libtorch.cpp runs
// the same workloads with LibTorch.

#include "workloads.hpp"

#include "tapegrad/optim/optimizer.hpp"
#include "tapegrad/tapegrad.hpp"

#include <benchmark/benchmark.h>
#include <cblas.h>
#include <omp.h>
#include <oneapi/dnnl/dnnl.h>
#include <sys/resource.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <random>

// Every C++ heap allocation in this process, for allocations per training step.
static std::atomic<std::uint64_t> heap_allocations{0};

void* operator new(std::size_t bytes) {
    heap_allocations.fetch_add(1, std::memory_order_relaxed);
    if (void* p = std::malloc(bytes ? bytes : 1)) return p;
    throw std::bad_alloc();
}
void operator delete(void* p) noexcept {
    std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
    std::free(p);
}

namespace tapegrad::bench {
namespace {

using F = Tensor<float>;

F random_tensor(const Shape& shape, std::mt19937& rng, float scale = 1.0f,
                bool requires_grad = false) {
    std::normal_distribution<float> normal(0.0f, scale);
    std::size_t count = 1;
    for (std::size_t extent : shape) count *= extent;
    std::vector<float> values(count);
    for (float& v : values) v = normal(rng);
    return F(shape, std::move(values), requires_grad);
}

Shape chain_shape(const benchmark::State& state) {
    return state.range(0) == 1 ? Shape{1}
                               : Shape{std::size_t(state.range(0)), std::size_t(state.range(0))};
}

F chain(const F& x0, const F& a, const F& b) {
    F x = x0;
    for (int i = 0; i < chain_repeats; ++i) x = relu(tanh(x * a + b));
    return x;
}

struct ChainInputs {
    F x0, a, b;
    explicit ChainInputs(const Shape& shape) {
        std::mt19937 rng(1);
        x0 = random_tensor(shape, rng, 1.0f, true);
        a = random_tensor(shape, rng, 0.5f);
        b = random_tensor(shape, rng, 0.5f);
    }
};

void set_ns_per_op(benchmark::State& state) {
    state.counters["ns_per_op"] =
        benchmark::Counter(double(chain_ops), benchmark::Counter::kIsIterationInvariantRate |
                                                  benchmark::Counter::kInvert);
}

// Forward with recording: builds the 1000-node graph (freed outside the timing).
void BM_ChainForwardRecording(benchmark::State& state) {
    ChainInputs in(chain_shape(state));
    for (auto _ : state) {
        F y = chain(in.x0, in.a, in.b);
        benchmark::DoNotOptimize(y.data());
        state.PauseTiming();
        y = F();
        state.ResumeTiming();
    }
    set_ns_per_op(state);
}

// Backward through a recorded chain (recorded outside the timing).
void BM_ChainBackward(benchmark::State& state) {
    ChainInputs in(chain_shape(state));
    const F seed = F::ones(chain_shape(state));
    for (auto _ : state) {
        state.PauseTiming();
        F y = chain(in.x0, in.a, in.b);
        state.ResumeTiming();
        y.backward(seed);
        state.PauseTiming();
        y = F();
        in.x0.zero_grad();
        state.ResumeTiming();
    }
    set_ns_per_op(state);
}

// Forward, backward and freeing the graph: the whole cost of a recorded op.
void BM_ChainForwardBackward(benchmark::State& state) {
    ChainInputs in(chain_shape(state));
    const F seed = F::ones(chain_shape(state));
    for (auto _ : state) {
        F y = chain(in.x0, in.a, in.b);
        y.backward(seed);
        in.x0.zero_grad();
    }
    set_ns_per_op(state);
}

void BM_ChainForwardNoGrad(benchmark::State& state) {
    ChainInputs in(chain_shape(state));
    NoGrad no_grad;
    for (auto _ : state) {
        F y = chain(in.x0, in.a, in.b);
        benchmark::DoNotOptimize(y.data());
    }
    set_ns_per_op(state);
}

struct Mlp {
    F x, w1, b1, w2, b2, w3, b3;
    Labels labels;
    explicit Mlp(std::mt19937& rng) {
        x = random_tensor({mlp_batch, mlp_in}, rng);
        const float s1 = 1.0f / std::sqrt(float(mlp_in)), s2 = 1.0f / std::sqrt(float(mlp_hidden));
        w1 = random_tensor({mlp_hidden, mlp_in}, rng, s1, true);
        b1 = random_tensor({mlp_hidden}, rng, s1, true);
        w2 = random_tensor({mlp_hidden, mlp_hidden}, rng, s2, true);
        b2 = random_tensor({mlp_hidden}, rng, s2, true);
        w3 = random_tensor({mlp_classes, mlp_hidden}, rng, s2, true);
        b3 = random_tensor({mlp_classes}, rng, s2, true);
        std::uniform_int_distribution<int> label(0, int(mlp_classes) - 1);
        for (std::size_t i = 0; i < mlp_batch; ++i) labels.push_back(label(rng));
    }
    F loss() const {
        const F h1 = relu(linear(x, w1, b1));
        const F h2 = relu(linear(h1, w2, b2));
        return softmax_cross_entropy(linear(h2, w3, b3), labels);
    }
    std::vector<F> parameters() const { return {w1, b1, w2, b2, w3, b3}; }
};

double peak_rss_mib() {
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    return double(usage.ru_maxrss) / 1024.0; // ru_maxrss is in KiB on Linux
}

void BM_MlpStep(benchmark::State& state) {
    set_num_threads(int(state.range(0)));
    std::mt19937 rng(2);
    Mlp mlp(rng);
    optim::Sgd<float> sgd(mlp.parameters(), {mlp_learning_rate, 0, false, 0});
    const MemoryStats cache_before = memory_stats();
    const std::uint64_t heap_before = heap_allocations.load();
    for (auto _ : state) {
        sgd.zero_grad();
        F loss = mlp.loss();
        loss.backward();
        sgd.step();
        benchmark::DoNotOptimize(loss.data());
    }
    const double steps = double(state.iterations());
    // Blocks the cache had to get from malloc (0 once warm) and small C++ allocations
    // (closures' label copies, the sweep's work lists) per step.
    state.counters["fresh_buffers_per_step"] =
        double(memory_stats().fresh_allocations - cache_before.fresh_allocations) / steps;
    state.counters["heap_news_per_step"] = double(heap_allocations.load() - heap_before) / steps;
    state.counters["peak_rss_MiB"] = peak_rss_mib();
    set_num_threads(1);
}

// Higher order on the MLP workload: the parameters' gradient alone, and a Hessian-vector
// product H v = d<dL/dθ, v>/dθ (a backward that creates a graph, then a backward through it).
void BM_MlpGradient(benchmark::State& state) {
    set_num_threads(1);
    std::mt19937 rng(2);
    Mlp mlp(rng);
    for (auto _ : state) {
        const std::vector<F> g = grad(mlp.loss(), mlp.parameters());
        benchmark::DoNotOptimize(g[0].data());
    }
    state.counters["peak_rss_MiB"] = peak_rss_mib();
}

void BM_MlpHessianVectorProduct(benchmark::State& state) {
    set_num_threads(1);
    std::mt19937 rng(2);
    Mlp mlp(rng);
    std::vector<F> v;
    for (const F& p : mlp.parameters()) v.push_back(random_tensor(p.shape(), rng));
    for (auto _ : state) {
        GradOptions create;
        create.create_graph = true;
        const std::vector<F> g = grad(mlp.loss(), mlp.parameters(), create);
        F gv = sum(g[0] * v[0]);
        for (std::size_t k = 1; k < g.size(); ++k) gv = gv + sum(g[k] * v[k]);
        const std::vector<F> hv = grad(gv, mlp.parameters());
        benchmark::DoNotOptimize(hv[0].data());
    }
    state.counters["peak_rss_MiB"] = peak_rss_mib();
}

// Raw row-major sgemm with either library, for the floors: whichever is faster on this
// machine is the floor that tapegrad's own products are measured against.
enum class RawGemm { openblas = 0, onednn = 1 };

void raw_sgemm(RawGemm library, bool ta, bool tb, int m, int n, int k, const float* a,
               const float* b, float* c) {
    const int lda = ta ? m : k, ldb = tb ? k : n;
    if (library == RawGemm::openblas) {
        cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                    m, n, k, 1.0f, a, lda, b, ldb, 0.0f, c, n);
    } else {
        dnnl_sgemm(ta ? 'T' : 'N', tb ? 'T' : 'N', m, n, k, 1.0f, a, lda, b, ldb, 0.0f, c, n);
    }
}

void set_raw_threads(int threads) {
    openblas_set_num_threads(threads);
    omp_set_num_threads(threads);
}

// The GEMMs of one MLP step as raw sgemm calls: forward X W^T per layer, then dW = dY^T X
// and dX = dY W per layer (no dX for the input layer), the floor the step cannot beat.
// Arguments: threads, library (0 OpenBLAS, 1 oneDNN).
void BM_MlpStepGemmsOnly(benchmark::State& state) {
    set_raw_threads(int(state.range(0)));
    const auto library = RawGemm(state.range(1));
    const int S = mlp_batch;
    const int widths[] = {int(mlp_in), int(mlp_hidden), int(mlp_hidden), int(mlp_classes)};
    std::vector<std::vector<float>> w(3), act(4), grad_w(3), grad_act(4);
    std::mt19937 rng(3);
    std::normal_distribution<float> normal;
    for (int l = 0; l < 4; ++l)
        act[l].resize(std::size_t(S * widths[l])), grad_act[l].resize(act[l].size());
    for (int l = 0; l < 3; ++l) {
        w[l].resize(std::size_t(widths[l + 1] * widths[l]));
        for (float& v : w[l]) v = 0.05f * normal(rng);
        grad_w[l].resize(w[l].size());
    }
    for (float& v : act[0]) v = normal(rng);
    for (float& v : grad_act[3]) v = normal(rng);
    for (auto _ : state) {
        for (int l = 0; l < 3; ++l) // [S, in] x [in, out] -> [S, out]
            raw_sgemm(library, false, true, S, widths[l + 1], widths[l], act[l].data(), w[l].data(),
                      act[l + 1].data());
        for (int l = 2; l >= 0; --l) {
            raw_sgemm(library, true, false, widths[l + 1], widths[l], S, grad_act[l + 1].data(),
                      act[l].data(), grad_w[l].data());
            if (l > 0)
                raw_sgemm(library, false, false, S, widths[l], widths[l + 1],
                          grad_act[l + 1].data(), w[l].data(), grad_act[l].data());
        }
        benchmark::DoNotOptimize(grad_w[0].data());
    }
    set_raw_threads(1);
}

void BM_GemmLinearForwardBackward(benchmark::State& state) {
    set_num_threads(int(state.range(0)));
    std::mt19937 rng(4);
    const F x = random_tensor({gemm_size, gemm_size}, rng, 1.0f, true);
    const F w = random_tensor({gemm_size, gemm_size}, rng, 0.03f, true);
    const F seed = random_tensor({gemm_size, gemm_size}, rng);
    for (auto _ : state) {
        F y = linear(x, w);
        y.backward(seed);
        benchmark::DoNotOptimize(y.data());
    }
    set_num_threads(1);
}

// The same three products as raw sgemm calls: Y = X W^T, dX = dY W, dW = dY^T X.
// Arguments: threads, library (0 OpenBLAS, 1 oneDNN).
void BM_GemmRaw(benchmark::State& state) {
    set_raw_threads(int(state.range(0)));
    const auto library = RawGemm(state.range(1));
    const int n = gemm_size;
    std::vector<float> x(gemm_size * gemm_size, 0.5f), w(x.size(), 0.01f), dy(x.size(), 1.0f),
        y(x.size()), dx(x.size()), dw(x.size());
    for (auto _ : state) {
        raw_sgemm(library, false, true, n, n, n, x.data(), w.data(), y.data());
        raw_sgemm(library, false, false, n, n, n, dy.data(), w.data(), dx.data());
        raw_sgemm(library, true, false, n, n, n, dy.data(), x.data(), dw.data());
        benchmark::DoNotOptimize(dw.data());
    }
    set_raw_threads(1);
}

BENCHMARK(BM_ChainForwardRecording)->Arg(1)->Arg(8)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_ChainBackward)->Arg(1)->Arg(8)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_ChainForwardBackward)->Arg(1)->Arg(8)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_ChainForwardNoGrad)->Arg(1)->Arg(8)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_MlpStep)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_MlpStepGemmsOnly)
    ->ArgsProduct({{1, 2}, {0, 1}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_MlpGradient)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_MlpHessianVectorProduct)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_GemmLinearForwardBackward)
    ->Arg(1)
    ->Arg(2)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_GemmRaw)->ArgsProduct({{1, 2}, {0, 1}})->Unit(benchmark::kMillisecond)->UseRealTime();

} // namespace
} // namespace tapegrad::bench

int main(int argc, char** argv) {
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    // The backend line of the machine (docs/performance.md records it with every table).
    benchmark::AddCustomContext("backend", tapegrad::backend_info().summary());
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
