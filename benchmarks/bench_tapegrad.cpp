// tapegrad's side of the performance suite (docs/performance.md); bench_libtorch.cpp runs
// the same workloads with LibTorch.

#include "workloads.hpp"

#include "tapegrad/nn/module.hpp"
#include "tapegrad/optim/optimizer.hpp"
#include "tapegrad/tapegrad.hpp"

#include <benchmark/benchmark.h>
#include <cblas.h>
#include <malloc.h>
#include <omp.h>
#include <oneapi/dnnl/dnnl.h>
#include <oneapi/dnnl/dnnl.hpp>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
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

/// Resident memory of this process in bytes (Linux).
std::size_t resident_bytes() {
    std::size_t total_pages = 0, resident_pages = 0;
    if (FILE* statm = std::fopen("/proc/self/statm", "r")) {
        if (std::fscanf(statm, "%zu %zu", &total_pages, &resident_pages) != 2) resident_pages = 0;
        std::fclose(statm);
    }
    return resident_pages * std::size_t(sysconf(_SC_PAGESIZE));
}

// Memory a recorded op costs: a chain of 1,000,000 ops on one-element tensors, alive at
// once, as resident bytes per node. Arg 0: y = y * c + 0 (two nodes a step; mul saves c,
// which all steps share); arg 1: y = tanh(y) (one node, saving its output). The memory of
// an earlier run goes back to the system first (malloc_trim), or this run would reuse it
// unseen.
void BM_GraphBytesPerNode(benchmark::State& state) {
    constexpr std::size_t steps = 1'000'000;
    const bool tanh_chain = state.range(0) == 1;
    const std::size_t nodes = tanh_chain ? steps : 2 * steps;
    for (auto _ : state) {
        state.PauseTiming();
        release_cached_memory();
        malloc_trim(0);
        const std::size_t before = resident_bytes();
        state.ResumeTiming();
        F x = F::full({1}, 0.5f, true), c = F::full({1}, 0.999f), zero = F::zeros({1});
        F y = x;
        for (std::size_t i = 0; i < steps; ++i) y = tanh_chain ? tanh(y) : y * c + zero;
        state.PauseTiming();
        state.counters["bytes_per_node"] = double(resident_bytes() - before) / double(nodes);
        y = F();
        state.ResumeTiming();
    }
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

// CNN training steps (workloads.hpp, 5): forward, backward and SGD on one batch.
nn::Sequential<float> make_cnn_net(CnnNet net, std::mt19937_64& rng) {
    if (net == CnnNet::recipe)
        return nn::make_cnn<float>(cnn_side, cnn_classes, nn::ActivationKind::relu, rng, 0.25);
    nn::Sequential<float> model;
    using A = nn::Activation<float>;
    model.add<nn::Unflatten<float>>(Shape{1, cnn_side, cnn_side});
    model.add<nn::Conv2d<float>>(1, 10, 5, Conv2dOptions{}, rng);
    model.add<nn::MaxPool2d<float>>(2);
    model.add<A>(nn::ActivationKind::relu);
    model.add<nn::Conv2d<float>>(10, 20, 5, Conv2dOptions{}, rng);
    model.add<nn::Dropout<float>>(0.5, rng());
    model.add<nn::MaxPool2d<float>>(2);
    model.add<A>(nn::ActivationKind::relu);
    model.add<nn::Flatten<float>>();
    model.add<nn::Linear<float>>(320, 50, rng);
    model.add<A>(nn::ActivationKind::relu);
    model.add<nn::Dropout<float>>(0.5, rng());
    model.add<nn::Linear<float>>(50, cnn_classes, rng);
    return model;
}

// Arguments: threads, net (0 the recipe, 1 LibTorch's MNIST example).
void BM_CnnStep(benchmark::State& state) {
    set_num_threads(int(state.range(0)));
    std::mt19937_64 init(5);
    nn::Sequential<float> model = make_cnn_net(CnnNet(state.range(1)), init);
    std::mt19937 rng(6);
    const F x = random_tensor({cnn_batch, cnn_side * cnn_side}, rng);
    Labels labels;
    for (std::size_t i = 0; i < cnn_batch; ++i) labels.push_back(std::int64_t(i % cnn_classes));
    optim::Sgd<float> sgd(model.parameters(), {0.01, 0, false, 0});
    for (auto _ : state) {
        sgd.zero_grad();
        F loss = softmax_cross_entropy(model(x), labels);
        loss.backward();
        sgd.step();
        benchmark::DoNotOptimize(loss.data());
    }
    state.counters["peak_rss_MiB"] = peak_rss_mib();
    set_num_threads(1);
}

// One convolution (workloads.hpp, 6): forward, then the input's and the weight's gradients.
void BM_Conv2dForwardBackward(benchmark::State& state) {
    set_num_threads(int(state.range(0)));
    std::mt19937 rng(7);
    const F x = random_tensor({conv_batch, conv_in, conv_side, conv_side}, rng, 1.0f, true);
    const F w = random_tensor({conv_out, conv_in, 3, 3}, rng, 0.05f, true);
    const F seed = random_tensor({conv_batch, conv_out, conv_side, conv_side}, rng);
    for (auto _ : state) {
        F y = conv2d(x, w, Conv2dOptions{1, 1});
        y.backward(seed);
        benchmark::DoNotOptimize(y.data());
    }
    set_num_threads(1);
}

// The same three products with oneDNN's convolution primitives called directly (plain
// layouts, primitives made once): the floor of BM_Conv2dForwardBackward.
void BM_Conv2dOneDnnPrimitives(benchmark::State& state) {
    set_raw_threads(int(state.range(0)));
    using dnnl::memory;
    const dnnl::engine engine(dnnl::engine::kind::cpu, 0);
    dnnl::stream stream(engine);
    const auto n = memory::dim(conv_batch), c = memory::dim(conv_in), o = memory::dim(conv_out),
               s = memory::dim(conv_side);
    const memory::desc src({n, c, s, s}, memory::data_type::f32, memory::format_tag::nchw),
        weights({o, c, 3, 3}, memory::data_type::f32, memory::format_tag::oihw),
        dst({n, o, s, s}, memory::data_type::f32, memory::format_tag::nchw);
    const memory::dims strides{1, 1}, dilates{0, 0}, padding{1, 1};
    const dnnl::convolution_forward::primitive_desc forward_pd(
        {dnnl::prop_kind::forward_training, dnnl::algorithm::convolution_direct, src, weights,
         memory::desc(), dst, strides, dilates, padding, padding},
        engine);
    const dnnl::convolution_backward_data::primitive_desc data_pd(
        {dnnl::algorithm::convolution_direct, src, weights, dst, strides, dilates, padding,
         padding},
        engine, forward_pd);
    const dnnl::convolution_backward_weights::primitive_desc weights_pd(
        {dnnl::algorithm::convolution_direct, src, weights, dst, strides, dilates, padding,
         padding},
        engine, forward_pd);
    dnnl::convolution_forward forward(forward_pd);
    dnnl::convolution_backward_data backward_data(data_pd);
    dnnl::convolution_backward_weights backward_weights(weights_pd);
    std::vector<float> x(src.get_size() / 4, 0.5f), w(weights.get_size() / 4, 0.01f),
        y(dst.get_size() / 4), dy(y.size(), 1.0f), dx(x.size()), dw(w.size());
    memory x_m(src, engine, x.data()), w_m(weights, engine, w.data()), y_m(dst, engine, y.data()),
        dy_m(dst, engine, dy.data()), dx_m(src, engine, dx.data()),
        dw_m(weights, engine, dw.data());
    for (auto _ : state) {
        forward.execute(stream,
                        {{DNNL_ARG_SRC, x_m}, {DNNL_ARG_WEIGHTS, w_m}, {DNNL_ARG_DST, y_m}});
        backward_data.execute(
            stream,
            {{DNNL_ARG_DIFF_DST, dy_m}, {DNNL_ARG_WEIGHTS, w_m}, {DNNL_ARG_DIFF_SRC, dx_m}});
        backward_weights.execute(
            stream,
            {{DNNL_ARG_SRC, x_m}, {DNNL_ARG_DIFF_DST, dy_m}, {DNNL_ARG_DIFF_WEIGHTS, dw_m}});
        stream.wait();
        benchmark::DoNotOptimize(dw.data());
    }
    set_raw_threads(1);
}

BENCHMARK(BM_ChainForwardRecording)->Arg(1)->Arg(8)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_ChainBackward)->Arg(1)->Arg(8)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_ChainForwardBackward)->Arg(1)->Arg(8)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_GraphBytesPerNode)->Arg(0)->Arg(1)->Iterations(1)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ChainForwardNoGrad)->Arg(1)->Arg(8)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_MlpStep)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_MlpStepGemmsOnly)
    ->ArgsProduct({{1, 2}, {0, 1}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_CnnStep)->ArgsProduct({{1, 2}, {0, 1}})->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Conv2dForwardBackward)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Conv2dOneDnnPrimitives)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();
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
