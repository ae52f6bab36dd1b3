// The training loop of docs/tutorial.md, written out by hand: an MLP on Fashion-MNIST with
// Adam, evaluated on the test set after each epoch.
//
//   train_mlp [DATA_DIR] [EPOCHS] [TRAIN_IMAGES]

#include <tapegrad/data/idx.hpp>
#include <tapegrad/data/loader.hpp>
#include <tapegrad/nn/module.hpp>
#include <tapegrad/nn/parameters_file.hpp>
#include <tapegrad/optim/optimizer.hpp>
#include <tapegrad/tapegrad.hpp>

#include <algorithm>
#include <cstdio>
#include <string>

using namespace tapegrad;

// A batch as a tensor of rows (copies the pixels).
Tensor<float> rows(const data::Batch& batch) {
    return Tensor<float>({batch.rows, batch.features}, batch.inputs);
}

// Fraction of rows whose largest logit is at the label.
double accuracy(const Tensor<float>& logits, const Labels& labels) {
    const std::size_t classes = logits.shape()[1];
    std::size_t correct = 0;
    for (std::size_t r = 0; r < labels.size(); ++r) {
        const float* row = logits.data() + r * classes;
        correct += std::max_element(row, row + classes) - row == labels[r];
    }
    return double(correct) / double(labels.size());
}

int main(int argc, char** argv) {
    const std::string data_dir = argc > 1 ? argv[1] : "/usr/share/datasets/fashion-mnist";
    const int epochs = argc > 2 ? std::stoi(argv[2]) : 3;
    const std::size_t train_images = argc > 3 ? std::stoul(argv[3]) : 0; // 0: all

    // 1. Data: the pixels as bytes; batches normalise them with the training set's statistics.
    data::ImageClassificationSet raw = data::load_mnist_format(data_dir);
    data::LabeledImages train =
        data::to_labeled_images(std::move(raw.train_images), raw.train_labels, 10);
    data::LabeledImages test =
        data::to_labeled_images(std::move(raw.test_images), raw.test_labels, 10);
    train.normalization = test.normalization = data::fit_normalization(train); // the training set's
    data::keep_first(train, train_images);

    // 2. The model: 784-256-128-10 with ReLU, and its optimizer.
    std::mt19937_64 rng(1);
    nn::Sequential<float> model =
        nn::make_mlp<float>({784, 256, 128, 10}, nn::ActivationKind::relu, rng);
    optim::Adam<float> adam(model.parameters(), optim::AdamOptions{});

    // 3. The loop: forward, loss, backward, update.
    data::BatchLoader batches(train, 128, /*shuffle=*/true, /*seed=*/2);
    for (int epoch = 1; epoch <= epochs; ++epoch) {
        model.train();
        batches.start_epoch(std::uint64_t(epoch));
        data::Batch batch;
        double loss_sum = 0;
        while (batches.next(batch)) {
            adam.zero_grad();
            Tensor<float> loss = softmax_cross_entropy(model(rows(batch)), batch.labels);
            loss.backward();
            adam.step();
            loss_sum += loss.item() * double(batch.rows);
        }

        // 4. Evaluation: no graph is recorded under NoGrad.
        model.eval();
        NoGrad no_grad;
        data::BatchLoader test_batches(test, test.count, false, 0);
        test_batches.start_epoch(0);
        test_batches.next(batch);
        const double test_accuracy = accuracy(model(rows(batch)), batch.labels);
        std::printf("epoch %d: train loss %.4f, test accuracy %.2f%%\n", epoch,
                    loss_sum / double(train.count), 100 * test_accuracy);
    }

    // 5. The parameters, readable with numpy.load.
    nn::save_parameters(model, "train_mlp.npz");
    std::printf("saved train_mlp.npz\n");
}
