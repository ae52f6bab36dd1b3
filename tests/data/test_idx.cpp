#include "error_message.hpp"
#include "idx_bytes.hpp"
#include "tapegrad/data/idx.hpp"
#include "tapegrad/errors.hpp"
#include "temp_directory.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <zlib.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace {

using tapegrad::FormatError;
using tapegrad::data::IdxArray;
using tapegrad::data::load_mnist_format;
using tapegrad::data::parse_idx;
using tapegrad::data::read_idx;
using testing::HasSubstr;
namespace fs = std::filesystem;
using tapegrad::testing::Bytes;
using tapegrad::testing::idx_bytes;
using tapegrad::testing::message_of;

// Data 0, 1, 2, ... so that element order is checked, not just the count.
Bytes counting(std::size_t count) {
    Bytes data(count);
    for (std::size_t i = 0; i < count; ++i) {
        data[i] = static_cast<std::uint8_t>(i * 7);
    }
    return data;
}

std::string parse_error(const Bytes& bytes) {
    return message_of<FormatError>([&] { parse_idx(bytes.data(), bytes.size(), "test.idx"); });
}

class IdxFiles : public tapegrad::testing::TempDirectoryTest {
protected:
    // Writes `bytes` as one gzip member; mode "ab" appends a second member.
    std::string write_gzip(const std::string& name, const Bytes& bytes,
                           const char* mode = "wb") const {
        gzFile file = gzopen(path(name).c_str(), mode);
        EXPECT_NE(file, nullptr);
        EXPECT_EQ(gzwrite(file, bytes.data(), static_cast<unsigned>(bytes.size())),
                  static_cast<int>(bytes.size()));
        EXPECT_EQ(gzclose(file), Z_OK);
        return path(name);
    }
};

TEST(ParseIdx, Rank3FromMemory) {
    const Bytes data = counting(2 * 3 * 4);
    const Bytes bytes = idx_bytes({2, 3, 4}, data);
    const IdxArray array = parse_idx(bytes.data(), bytes.size(), "memory");
    EXPECT_EQ(array.shape, (std::vector<std::size_t>{2, 3, 4}));
    EXPECT_EQ(array.values, data);
}

TEST(ParseIdx, LargeDimsAreBigEndian) {
    const Bytes bytes = idx_bytes({0x010203}, counting(0x010203));
    const IdxArray array = parse_idx(bytes.data(), bytes.size(), "memory");
    EXPECT_EQ(array.shape, (std::vector<std::size_t>{0x010203}));
}

TEST(ParseIdx, TruncatedDataNamesBothSizes) {
    const Bytes bytes = idx_bytes({2, 3, 4}, counting(20));
    const std::string message = parse_error(bytes);
    EXPECT_THAT(message, HasSubstr("parse_idx: test.idx"));
    EXPECT_THAT(message, HasSubstr("header says 2 x 3 x 4 = 24 bytes of data, file has 20"));
    EXPECT_THAT(message, HasSubstr("truncated"));
}

TEST(ParseIdx, TrailingBytesAreRejected) {
    const Bytes bytes = idx_bytes({5}, counting(8));
    const std::string message = parse_error(bytes);
    EXPECT_THAT(message, HasSubstr("header says 5 = 5 bytes of data, file has 8"));
    EXPECT_THAT(message, HasSubstr("trailing"));
}

TEST(ParseIdx, BadMagic) {
    Bytes bytes = idx_bytes({3}, counting(3));
    bytes[1] = 0x50;
    EXPECT_THAT(parse_error(bytes), HasSubstr("magic starts with 0x00 0x50, expected 0x00 0x00"));
}

TEST(ParseIdx, WrongTypeCodeIsNamed) {
    const Bytes bytes = idx_bytes({3}, counting(12), 0x0d);
    const std::string message = parse_error(bytes);
    EXPECT_THAT(message, HasSubstr("type code 0x0d (float32)"));
    EXPECT_THAT(message, HasSubstr("expected 0x08"));
}

TEST(ParseIdx, ZeroDimension) {
    const Bytes bytes = idx_bytes({4, 0, 2}, {});
    EXPECT_THAT(parse_error(bytes), HasSubstr("dimension 1 is 0"));
}

TEST(ParseIdx, RankOutOfRange) {
    EXPECT_THAT(parse_error(idx_bytes({1, 1, 1, 1, 1}, counting(1))),
                HasSubstr("header says 5 dimensions, expected 1 to 4"));
    EXPECT_THAT(parse_error(idx_bytes({}, {})),
                HasSubstr("header says 0 dimensions, expected 1 to 4"));
}

TEST(ParseIdx, ShortHeaders) {
    EXPECT_THAT(parse_error({0, 0, 8}), HasSubstr("needs at least 4 bytes, file has 3"));
    const Bytes three_dims_cut = {0, 0, 8, 3, 0, 0, 0, 1, 0, 0};
    EXPECT_THAT(parse_error(three_dims_cut),
                HasSubstr("header with 3 dimensions needs 16 bytes, file has 10"));
}

TEST(ParseIdx, OverflowingDimensions) {
    const Bytes bytes = idx_bytes({0xffffffff, 0xffffffff, 0xffffffff}, {});
    EXPECT_THAT(parse_error(bytes), HasSubstr("overflow"));
}

// Every prefix and every single-byte change of a valid file either parses or throws
// FormatError; none may crash (run under the sanitizers).
TEST(ParseIdx, PrefixesAndMutationsNeverCrash) {
    const Bytes valid = idx_bytes({2, 2, 3}, counting(12));
    for (std::size_t length = 0; length < valid.size(); ++length) {
        const Bytes prefix(valid.begin(), valid.begin() + static_cast<std::ptrdiff_t>(length));
        EXPECT_THROW(parse_idx(prefix.data(), prefix.size(), "prefix"), FormatError) << length;
    }
    for (std::size_t position = 0; position < valid.size(); ++position) {
        for (const std::uint8_t value : {0x00, 0x01, 0x04, 0x08, 0x7f, 0xff}) {
            Bytes mutated = valid;
            mutated[position] = value;
            try {
                parse_idx(mutated.data(), mutated.size(), "mutated");
            } catch (const FormatError&) {}
        }
    }
}

TEST_F(IdxFiles, RoundTripRank3AndRank1RawAndGzipped) {
    const Bytes images = counting(3 * 4 * 5);
    const Bytes labels = {9, 0, 4};
    for (const bool gzipped : {false, true}) {
        const auto write_file = [&](const std::string& name, const Bytes& bytes) {
            return gzipped ? write_gzip(name + ".gz", bytes) : write(name, bytes);
        };
        const IdxArray read_images = read_idx(write_file("images", idx_bytes({3, 4, 5}, images)));
        const IdxArray read_labels = read_idx(write_file("labels", idx_bytes({3}, labels)));
        EXPECT_EQ(read_images.shape, (std::vector<std::size_t>{3, 4, 5})) << "gzipped " << gzipped;
        EXPECT_EQ(read_images.values, images) << "gzipped " << gzipped;
        EXPECT_EQ(read_labels.shape, (std::vector<std::size_t>{3})) << "gzipped " << gzipped;
        EXPECT_EQ(read_labels.values, labels) << "gzipped " << gzipped;
    }
}

TEST_F(IdxFiles, GzipOutputLargerThanOneChunk) {
    const Bytes images = counting(100 * 30 * 30);
    const IdxArray array = read_idx(write_gzip("big.gz", idx_bytes({100, 30, 30}, images)));
    EXPECT_EQ(array.values, images);
}

TEST_F(IdxFiles, ConcatenatedGzipMembersAreJoined) {
    const Bytes whole = idx_bytes({2, 3}, counting(6));
    const Bytes first(whole.begin(), whole.begin() + 7);
    const Bytes second(whole.begin() + 7, whole.end());
    write_gzip("joined.gz", first);
    const IdxArray array = read_idx(write_gzip("joined.gz", second, "ab"));
    EXPECT_EQ(array.values, counting(6));
}

TEST_F(IdxFiles, GzipPayloadIsValidated) {
    const std::string file = write_gzip("short.gz", idx_bytes({4, 4}, counting(10)));
    const std::string message = message_of<FormatError>([&] { read_idx(file); });
    EXPECT_THAT(message, HasSubstr("read_idx: " + file));
    EXPECT_THAT(message, HasSubstr("header says 4 x 4 = 16 bytes of data, file has 10"));
}

TEST_F(IdxFiles, TruncatedGzipStream) {
    const Bytes compressed = read_back(write_gzip("full.gz", idx_bytes({50}, counting(50))));
    // Every cut that keeps the gzip magic must be reported, never parsed as garbage.
    for (std::size_t length = 2; length < compressed.size(); ++length) {
        const std::string file =
            write("cut.gz", Bytes(compressed.begin(),
                                  compressed.begin() + static_cast<std::ptrdiff_t>(length)));
        EXPECT_THROW(read_idx(file), FormatError) << length;
    }
    const std::string file =
        write("cut.gz", Bytes(compressed.begin(), compressed.begin() + compressed.size() / 2));
    EXPECT_THAT(message_of<FormatError>([&] { read_idx(file); }),
                HasSubstr("gzip stream is truncated"));
}

TEST_F(IdxFiles, CorruptGzipStream) {
    Bytes compressed = read_back(write_gzip("full.gz", idx_bytes({64}, counting(64))));
    compressed[compressed.size() - 6] ^= 0xff; // inside the CRC-32 of the trailer
    const std::string file = write("corrupt.gz", compressed);
    EXPECT_THAT(message_of<FormatError>([&] { read_idx(file); }), HasSubstr("broken gzip stream"));
}

TEST_F(IdxFiles, MissingFile) {
    const std::string file = path("nowhere.gz");
    const std::string message = message_of<FormatError>([&] { read_idx(file); });
    EXPECT_THAT(message, HasSubstr("read_idx: " + file));
    EXPECT_THAT(message, HasSubstr("cannot open"));
}

TEST_F(IdxFiles, DirectoryIsNotAFile) {
    EXPECT_THAT(message_of<FormatError>([&] { read_idx(dir_.string()); }),
                HasSubstr("cannot read"));
}

class MnistFormat : public IdxFiles {
protected:
    // Writes a consistent set: the train files gzip'd, the test files raw.
    void write_set(std::uint32_t train_labels = 4, std::uint32_t test_rows = 3) {
        write_gzip("train-images-idx3-ubyte.gz", idx_bytes({4, 3, 2}, counting(24)));
        write_gzip("train-labels-idx1-ubyte.gz", idx_bytes({train_labels}, counting(train_labels)));
        write("t10k-images-idx3-ubyte", idx_bytes({2, test_rows, 2}, counting(4 * test_rows)));
        write("t10k-labels-idx1-ubyte", idx_bytes({2}, {1, 2}));
    }
};

TEST_F(MnistFormat, LoadsGzipAndRawNames) {
    write_set();
    const tapegrad::data::ImageClassificationSet set = load_mnist_format(dir_.string());
    EXPECT_EQ(set.train_images.shape, (std::vector<std::size_t>{4, 3, 2}));
    EXPECT_EQ(set.train_labels.values, counting(4));
    EXPECT_EQ(set.test_images.shape, (std::vector<std::size_t>{2, 3, 2}));
    EXPECT_EQ(set.test_labels.values, (Bytes{1, 2}));
}

TEST_F(MnistFormat, MissingFileNamesFileAndDirectory) {
    write_set();
    fs::remove(path("t10k-labels-idx1-ubyte"));
    const std::string message = message_of<FormatError>([&] { load_mnist_format(dir_.string()); });
    EXPECT_THAT(message, HasSubstr(dir_.string()));
    EXPECT_THAT(message, HasSubstr("neither t10k-labels-idx1-ubyte.gz nor t10k-labels-idx1-ubyte"));
}

TEST_F(MnistFormat, CountMismatchNamesBothCounts) {
    write_set(5);
    EXPECT_THAT(message_of<FormatError>([&] { load_mnist_format(dir_.string()); }),
                HasSubstr("train-images-idx3-ubyte has 4 images but train-labels-idx1-ubyte "
                          "has 5 labels"));
}

TEST_F(MnistFormat, WrongRanks) {
    write_set();
    write("t10k-images-idx3-ubyte", idx_bytes({2, 6}, counting(12)));
    EXPECT_THAT(message_of<FormatError>([&] { load_mnist_format(dir_.string()); }),
                HasSubstr("t10k-images-idx3-ubyte has shape 2 x 6, expected 3 dimensions"));
    write_set();
    write_gzip("train-labels-idx1-ubyte.gz", idx_bytes({4, 1}, counting(4)));
    EXPECT_THAT(message_of<FormatError>([&] { load_mnist_format(dir_.string()); }),
                HasSubstr("train-labels-idx1-ubyte has shape 4 x 1, expected 1 dimension"));
}

TEST_F(MnistFormat, ImageSizesMustAgree) {
    write_set(4, 5);
    EXPECT_THAT(message_of<FormatError>([&] { load_mnist_format(dir_.string()); }),
                HasSubstr("train images are 3 x 2 but test images are 5 x 2"));
}

} // namespace
