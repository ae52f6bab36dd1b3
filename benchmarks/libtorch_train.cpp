// tapegrad-train's default recipe in LibTorch, for the training-epoch comparison
// (docs/performance.md): the same data, normalisation, batches (tapegrad's loader with the
// same seed), model, initialisation rule, optimizer and schedule.
//
//   libtorch_train [--threads N] [--epochs N] [--data DIR] [--model mlp|cnn]

#include "libtorch_nets.hpp"
#include "tapegrad/data/idx.hpp"
#include "tapegrad/data/loader.hpp"
#include "tapegrad/optim/schedule.hpp"

#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>

extern "C" void openblas_set_num_threads(int threads);

namespace {

torch::Tensor rows_of(const std::vector<float>& values, std::size_t rows, std::size_t features) {
    return torch::from_blob(const_cast<float*>(values.data()), {int64_t(rows), int64_t(features)},
                            torch::kFloat32)
        .clone();
}

torch::Tensor labels_of(const std::vector<std::int64_t>& labels) {
    return torch::from_blob(const_cast<std::int64_t*>(labels.data()), {int64_t(labels.size())},
                            torch::kLong)
        .clone();
}

} // namespace

int main(int argc, char** argv) {
    int threads = 1, epochs = 10;
    std::string data_dir = "/usr/share/datasets/fashion-mnist", model_kind = "mlp";
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!std::strcmp(argv[i], "--threads")) threads = std::stoi(argv[i + 1]);
        if (!std::strcmp(argv[i], "--epochs")) epochs = std::stoi(argv[i + 1]);
        if (!std::strcmp(argv[i], "--data")) data_dir = argv[i + 1];
        if (!std::strcmp(argv[i], "--model")) model_kind = argv[i + 1];
    }
    torch::set_num_threads(threads);
    openblas_set_num_threads(threads);
    torch::manual_seed(1);

    using namespace tapegrad::data;
    ImageClassificationSet raw = load_mnist_format(data_dir);
    LabeledImages train = to_labeled_images(std::move(raw.train_images), raw.train_labels, 10);
    LabeledImages test = to_labeled_images(std::move(raw.test_images), raw.test_labels, 10);
    train.normalization = test.normalization = fit_normalization(train);
    const torch::Tensor test_x = rows_of(test.rows(0, test.count), test.count, test.features);
    const torch::Tensor test_y = labels_of(test.labels);

    // torch::nn's default initialisation is the rule tapegrad's layers follow. The CNN is
    // tapegrad-train's recipe (nn::make_cnn).
    torch::nn::Sequential model =
        model_kind == "cnn" ? tapegrad::bench::make_cnn_net(tapegrad::bench::CnnNet::recipe)
                            : torch::nn::Sequential(torch::nn::Linear(784, 256), torch::nn::ReLU(),
                                                    torch::nn::Linear(256, 128), torch::nn::ReLU(),
                                                    torch::nn::Linear(128, 10));
    torch::optim::Adam adam(model->parameters(), torch::optim::AdamOptions(1e-3));
    tapegrad::optim::Schedule schedule{
        tapegrad::optim::ScheduleKind::cosine, 1e-3, epochs, 0, 1, 0.1};
    BatchLoader loader(train, 128, true, 2); // tapegrad-train's loader seed for --seed 1

    double accuracy = 0;
    for (int epoch = 0; epoch < epochs; ++epoch) {
        const auto start = std::chrono::steady_clock::now();
        for (auto& group : adam.param_groups())
            static_cast<torch::optim::AdamOptions&>(group.options()).lr(schedule.rate(epoch));
        model->train();
        loader.start_epoch(std::uint64_t(epoch));
        Batch batch;
        while (loader.next(batch)) {
            adam.zero_grad();
            torch::Tensor loss = torch::nn::functional::cross_entropy(
                model->forward(rows_of(batch.inputs, batch.rows, batch.features)),
                labels_of(batch.labels));
            loss.backward();
            adam.step();
        }
        model->eval();
        torch::NoGradGuard no_grad;
        double correct = 0;
        for (int64_t first = 0; first < test_x.size(0); first += 256) {
            const int64_t rows = std::min<int64_t>(256, test_x.size(0) - first);
            correct += model->forward(test_x.narrow(0, first, rows))
                           .argmax(1)
                           .eq(test_y.narrow(0, first, rows))
                           .sum()
                           .item<double>();
        }
        accuracy = correct / double(test_x.size(0));
        const double seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        std::printf("epoch %2d/%d  test acc %.2f%%  %.2f s\n", epoch + 1, epochs, 100 * accuracy,
                    seconds);
    }
    std::printf("final test accuracy %.2f%%\n", 100 * accuracy);
}
