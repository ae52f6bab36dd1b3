#pragma once
// Reader for the IDX format used by MNIST-style datasets: a big-endian header of dimensions
// followed by raw bytes. Only the unsigned-byte element type (code 0x08) is supported, which
// is what image and label files use.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace tapegrad::data {

/// IDX unsigned-byte data (type code 0x08), row-major.
struct IdxArray {
    std::vector<std::size_t> shape; ///< e.g. {60000, 28, 28} or {60000}
    std::vector<std::uint8_t> values;
};

/// Parses IDX bytes already in memory (already decompressed). `source` names the data in
/// error messages. Throws FormatError for anything that is not a well-formed unsigned-byte
/// IDX file of rank 1 to 4 whose data length matches its header exactly.
IdxArray parse_idx(const std::uint8_t* bytes, std::size_t size, const std::string& source);

/// Reads an IDX file, gzip-compressed (recognised by its magic bytes) or raw. Throws
/// FormatError for a missing or unreadable file, a broken or truncated gzip stream, data that
/// decompresses to more than 1 GiB, and everything parse_idx rejects.
IdxArray read_idx(const std::string& path);

/// The four arrays of an MNIST-format image classification dataset.
struct ImageClassificationSet {
    IdxArray train_images, train_labels, test_images, test_labels;
};

/// Loads train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte and
/// t10k-labels-idx1-ubyte from `directory`, each with or without a ".gz" suffix (the
/// compressed name is tried first). Checks that images are rank 3 (count x rows x columns),
/// labels rank 1, each image count equals its label count, and train and test images have the
/// same size. Label values are not checked: this is a format reader. Throws FormatError.
ImageClassificationSet load_mnist_format(const std::string& directory);

} // namespace tapegrad::data
