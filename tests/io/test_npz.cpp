#include "error_message.hpp"
#include "npz_bytes.hpp"
#include "tapegrad/errors.hpp"
#include "tapegrad/io/npz.hpp"
#include "temp_directory.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <zlib.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <string>
#include <vector>

namespace {

using tapegrad::FormatError;
using tapegrad::ShapeError;
using tapegrad::ValueError;
using tapegrad::io::decode_npy;
using tapegrad::io::encode_npy;
using tapegrad::io::load_npz;
using tapegrad::io::NamedArray;
using tapegrad::io::parse_npz;
using tapegrad::io::save_npz;
using testing::HasSubstr;
namespace fs = std::filesystem;
using tapegrad::testing::append_le;
using tapegrad::testing::Bytes;
using tapegrad::testing::float32_data;
using tapegrad::testing::make_zip;
using tapegrad::testing::message_of;
using tapegrad::testing::npy_bytes;
using tapegrad::testing::raw_deflate;
using tapegrad::testing::to_bytes;
using tapegrad::testing::ZipEntry;

const std::string kFloatDict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }";

std::string npz_error(const Bytes& archive) {
    return message_of<FormatError>([&] { parse_npz(archive.data(), archive.size(), "test.npz"); });
}

std::string npy_error(const Bytes& npy) {
    return message_of<FormatError>([&] { decode_npy(npy.data(), npy.size(), "w"); });
}

// Bit-exact comparison, so that -0.0 and NaN payloads count too.
void expect_same_array(const NamedArray& actual, const NamedArray& expected) {
    EXPECT_EQ(actual.name, expected.name);
    EXPECT_EQ(actual.shape, expected.shape);
    ASSERT_EQ(actual.values.size(), expected.values.size()) << expected.name;
    EXPECT_EQ(std::memcmp(actual.values.data(), expected.values.data(),
                          expected.values.size() * sizeof(float)),
              0)
        << expected.name;
}

std::vector<NamedArray> sample_arrays() {
    std::vector<float> cube(2 * 3 * 4);
    for (std::size_t i = 0; i < cube.size(); ++i) {
        cube[i] = static_cast<float>(i) * 0.1f - 1.0f;
    }
    return {
        {"fc1.weight", {2, 3, 4}, cube},
        {"scale", {}, {3.25f}},
        {"fc1.bias",
         {6},
         {-0.0f, 1e-45f, std::numeric_limits<float>::max(), std::numeric_limits<float>::infinity(),
          std::numeric_limits<float>::quiet_NaN(), -7.5f}},
        {"matrix", {1, 2}, {1.0f, 2.0f}},
    };
}

class NpzFiles : public tapegrad::testing::TempDirectoryTest {};

// ---- NPY ------------------------------------------------------------------------------------

TEST(Npy, EncodesNumpyLayout) {
    const std::string npy = encode_npy({"w", {2, 3}, {1, 2, 3, 4, 5, 6}});
    ASSERT_GE(npy.size(), 10u);
    EXPECT_EQ(npy.substr(0, 8), std::string("\x93NUMPY\x01\x00", 8));
    const std::size_t header_size =
        static_cast<unsigned char>(npy[8]) | static_cast<unsigned char>(npy[9]) << 8;
    EXPECT_EQ((10 + header_size) % 64, 0u);
    EXPECT_EQ(npy.size(), 10 + header_size + 6 * 4);
    const std::string header = npy.substr(10, header_size);
    EXPECT_EQ(header.rfind("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 0), 0u);
    EXPECT_EQ(header.back(), '\n');
    EXPECT_EQ(npy.substr(10 + header_size, 4), std::string("\x00\x00\x80\x3f", 4)); // 1.0f
}

TEST(Npy, ShapeSpellings) {
    EXPECT_THAT(encode_npy({"s", {}, {1}}), HasSubstr("'shape': (), }"));
    EXPECT_THAT(encode_npy({"v", {3}, {1, 2, 3}}), HasSubstr("'shape': (3,), }"));
    EXPECT_THAT(encode_npy({"e", {0, 5}, {}}), HasSubstr("'shape': (0, 5), }"));
}

TEST(Npy, RoundTrip) {
    for (const NamedArray& array : sample_arrays()) {
        const std::string npy = encode_npy(array);
        const NamedArray decoded =
            decode_npy(reinterpret_cast<const std::uint8_t*>(npy.data()), npy.size(), array.name);
        expect_same_array(decoded, array);
    }
}

TEST(Npy, EncodeRejectsValueCountMismatch) {
    try {
        encode_npy({"w", {2, 3}, {1, 2, 3, 4, 5}});
        ADD_FAILURE() << "expected ShapeError";
    } catch (const ShapeError& error) {
        EXPECT_THAT(error.what(), HasSubstr("entry 'w' has shape (2, 3) but 5 values"));
    }
}

TEST(Npy, TolerantHeaderParsing) {
    const Bytes data = float32_data({1.5f, -2.0f});
    for (const std::string dict : {
             "{'shape': (2,), 'fortran_order': False, 'descr': '<f4'}",
             "{ \"descr\" :\"<f4\",'fortran_order':False,'shape':( 2 , ) }",
             "{'descr': '<f4', 'fortran_order': False, 'shape': (2L,), }",
             "{'descr': '<f4', 'fortran_order': False, 'shape': (2)}",
         }) {
        const Bytes npy = npy_bytes(dict, data);
        const NamedArray array = decode_npy(npy.data(), npy.size(), "w");
        EXPECT_EQ(array.shape, (std::vector<std::size_t>{2})) << dict;
        EXPECT_EQ(array.values, (std::vector<float>{1.5f, -2.0f})) << dict;
    }
}

TEST(Npy, ScalarAndVersion2) {
    const Bytes scalar =
        npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (), }", float32_data({4}));
    EXPECT_EQ(decode_npy(scalar.data(), scalar.size(), "s").shape.size(), 0u);
    const Bytes version2 = npy_bytes(kFloatDict, float32_data({1, 2}), 2);
    EXPECT_EQ(decode_npy(version2.data(), version2.size(), "v").values, (std::vector<float>{1, 2}));
}

TEST(Npy, RejectsOtherDtypes) {
    const Bytes npy =
        npy_bytes("{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }", Bytes(16, 0));
    EXPECT_THAT(npy_error(npy),
                HasSubstr("decode_npy: entry 'w' has dtype '<f8', expected '<f4' (float32)"));
    const Bytes big_endian = npy_bytes("{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }",
                                       float32_data({1, 2}));
    EXPECT_THAT(npy_error(big_endian), HasSubstr("has dtype '>f4'"));
}

TEST(Npy, RejectsFortranOrder) {
    const Bytes npy = npy_bytes("{'descr': '<f4', 'fortran_order': True, 'shape': (1, 2), }",
                                float32_data({1, 2}));
    EXPECT_THAT(npy_error(npy), HasSubstr("entry 'w' is stored in Fortran order"));
}

TEST(Npy, RejectsDataLengthMismatch) {
    const std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
    const std::string truncated = npy_error(npy_bytes(dict, Bytes(20, 0)));
    EXPECT_THAT(truncated,
                HasSubstr("entry 'w' with shape (2, 3) needs 24 bytes of float32 data, has 20"));
    EXPECT_THAT(truncated, HasSubstr("truncated"));
    EXPECT_THAT(npy_error(npy_bytes(dict, Bytes(28, 0))), HasSubstr("has 28 (trailing bytes)"));
}

TEST(Npy, RejectsMalformedHeaders) {
    const Bytes data = float32_data({1, 2});
    EXPECT_THAT(npy_error(npy_bytes("{'descr': '<f4', 'shape': (2,)}", data)),
                HasSubstr("key 'fortran_order' is missing"));
    EXPECT_THAT(npy_error(npy_bytes(
                    "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1}", data)),
                HasSubstr("unexpected key 'x'"));
    EXPECT_THAT(npy_error(npy_bytes("{'descr': '<f4', 'descr': '<f4'}", data)),
                HasSubstr("key 'descr' appears twice"));
    EXPECT_THAT(npy_error(npy_bytes("{'descr': '<f4', 'fortran_order': 0, 'shape': (2,)}", data)),
                HasSubstr("expected True or False"));
    EXPECT_THAT(
        npy_error(npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (-2,)}", data)),
        HasSubstr("expected a dimension"));
    EXPECT_THAT(
        npy_error(npy_bytes(
            "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,)}", data)),
        HasSubstr("dimension too large"));
    EXPECT_THAT(npy_error(npy_bytes("{'descr': '<f4'", data)), HasSubstr("expected '}'"));
    EXPECT_THAT(npy_error(npy_bytes("{'descr: '<f4'}", data)), HasSubstr("expected ':'"));
}

TEST(Npy, RejectsBadPrefixes) {
    EXPECT_THAT(npy_error(to_bytes("NUMPY\x01\x00\x00\x00")), HasSubstr("not an NPY array"));
    Bytes version3 = npy_bytes(kFloatDict, float32_data({1, 2}));
    version3[6] = 3;
    EXPECT_THAT(npy_error(version3), HasSubstr("NPY version 3.0, expected 1.0 or 2.0"));
    Bytes long_header = npy_bytes(kFloatDict, {});
    long_header[9] = 0x7f;
    EXPECT_THAT(npy_error(long_header), HasSubstr("has an NPY header of"));
}

TEST(Npy, OverflowingShapeIsRejected) {
    const Bytes npy = npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': "
                                "(4294967296, 4294967296, 4294967296), }",
                                {});
    EXPECT_THAT(npy_error(npy), HasSubstr("too large to address"));
}

// ---- NPZ ------------------------------------------------------------------------------------

TEST_F(NpzFiles, RoundTripKeepsOrderAndExactValues) {
    const std::vector<NamedArray> arrays = sample_arrays();
    save_npz(path("params.npz"), arrays);
    EXPECT_FALSE(fs::exists(path("params.npz.tmp")));
    const std::vector<NamedArray> loaded = load_npz(path("params.npz"));
    ASSERT_EQ(loaded.size(), arrays.size());
    for (std::size_t i = 0; i < arrays.size(); ++i) {
        expect_same_array(loaded[i], arrays[i]);
    }
}

TEST_F(NpzFiles, EmptyArchiveRoundTrip) {
    save_npz(path("empty.npz"), {});
    EXPECT_EQ(read_back(path("empty.npz")).size(), 22u); // just the end record
    EXPECT_TRUE(load_npz(path("empty.npz")).empty());
}

TEST_F(NpzFiles, SavingIsReproducibleAndReplacesTheFile) {
    save_npz(path("a.npz"), {{"x", {1}, {1}}});
    save_npz(path("a.npz"), sample_arrays());
    save_npz(path("b.npz"), sample_arrays());
    EXPECT_EQ(read_back(path("a.npz")), read_back(path("b.npz")));
}

TEST_F(NpzFiles, EntriesAreStoredNpyFiles) {
    save_npz(path("a.npz"), {{"w", {2}, {1, 2}}});
    const Bytes archive = read_back(path("a.npz"));
    const std::string expected = encode_npy({"w", {2}, {1, 2}});
    EXPECT_EQ(archive, make_zip({{"w.npy", to_bytes(expected)}}));
}

TEST_F(NpzFiles, SaveValidatesArrays) {
    EXPECT_THROW(save_npz(path("a.npz"), {{"w", {2, 2}, {1}}}), ShapeError);
    EXPECT_THROW(save_npz(path("a.npz"), {{"w", {1}, {1}}, {"w", {1}, {2}}}), ValueError);
    EXPECT_THROW(save_npz(path("a.npz"), {{"", {1}, {1}}}), ValueError);
    EXPECT_FALSE(fs::exists(path("a.npz")));
    EXPECT_FALSE(fs::exists(path("a.npz.tmp")));
}

TEST_F(NpzFiles, UnwritablePath) {
    const std::string file = path("no-such-dir/a.npz");
    const std::string message = message_of<FormatError>([&] { save_npz(file, sample_arrays()); });
    EXPECT_THAT(message, HasSubstr("save_npz: " + file));
    EXPECT_THAT(message, HasSubstr("cannot create " + file + ".tmp"));
}

TEST_F(NpzFiles, MissingFile) {
    const std::string file = path("absent.npz");
    EXPECT_THAT(message_of<FormatError>([&] { load_npz(file); }),
                HasSubstr("load_npz: " + file + ": cannot open file"));
}

TEST_F(NpzFiles, Float64EntryIsNamed) {
    const Bytes f8 =
        npy_bytes("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), }", Bytes(32, 0));
    const std::string file =
        write("params.npz", make_zip({{"fc1.bias.npy", npy_bytes(kFloatDict, float32_data({1, 2}))},
                                      {"fc1.weight.npy", f8}}));
    EXPECT_THAT(message_of<FormatError>([&] { load_npz(file); }),
                HasSubstr("load_npz: " + file +
                          ": entry 'fc1.weight' has dtype '<f8', expected '<f4' (float32)"));
}

TEST_F(NpzFiles, DeflatedEntriesLoad) {
    std::vector<float> values(1000);
    for (std::size_t i = 0; i < values.size(); ++i) {
        values[i] = static_cast<float>(i % 7);
    }
    const Bytes npy = npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (10, 100), }",
                                float32_data(values));
    const Bytes archive = make_zip(
        {{"big.npy", npy, 8}, {"small.npy", npy_bytes(kFloatDict, float32_data({1, 2})), 0}});
    ASSERT_LT(archive.size(), npy.size()); // the entry really is compressed
    const std::vector<NamedArray> arrays = parse_npz(archive.data(), archive.size(), "mem");
    ASSERT_EQ(arrays.size(), 2u);
    EXPECT_EQ(arrays[0].name, "big");
    EXPECT_EQ(arrays[0].shape, (std::vector<std::size_t>{10, 100}));
    EXPECT_EQ(arrays[0].values, values);
    EXPECT_EQ(arrays[1].values, (std::vector<float>{1, 2}));
}

TEST_F(NpzFiles, EveryPrefixIsRejected) {
    save_npz(path("small.npz"), {{"a", {2}, {1, 2}}, {"b", {}, {3}}});
    const Bytes archive = read_back(path("small.npz"));
    for (std::size_t length = 0; length < archive.size(); ++length) {
        // A copy of exactly `length` bytes, so the sanitizer sees any read past the end.
        const Bytes prefix(archive.begin(), archive.begin() + static_cast<std::ptrdiff_t>(length));
        EXPECT_THROW(parse_npz(prefix.data(), prefix.size(), "prefix"), FormatError) << length;
    }
    EXPECT_EQ(parse_npz(archive.data(), archive.size(), "whole").size(), 2u);
    EXPECT_THAT(npz_error(Bytes(archive.begin(), archive.end() - 1)),
                HasSubstr("no end-of-central-directory record"));
}

TEST_F(NpzFiles, EveryPrefixOfADeflatedArchiveIsRejected) {
    const Bytes archive = make_zip({{"a.npy", npy_bytes(kFloatDict, float32_data({1, 2})), 8}});
    for (std::size_t length = 0; length < archive.size(); ++length) {
        const Bytes prefix(archive.begin(), archive.begin() + static_cast<std::ptrdiff_t>(length));
        EXPECT_THROW(parse_npz(prefix.data(), prefix.size(), "prefix"), FormatError) << length;
    }
}

TEST_F(NpzFiles, FlippedDataByteFailsCrc) {
    save_npz(path("a.npz"), {{"w", {4}, {1, 2, 3, 4}}});
    Bytes archive = read_back(path("a.npz"));
    // The float data is the last 16 bytes of the only entry, just before the directory.
    const std::size_t directory_size = 46 + 5;
    archive[archive.size() - 22 - directory_size - 3] ^= 0x01;
    const std::string message = npz_error(archive);
    EXPECT_THAT(message, HasSubstr("parse_npz: test.npz: entry 'w.npy' fails its CRC-32 check"));
}

TEST_F(NpzFiles, CorruptDeflateStream) {
    Bytes archive = make_zip({{"a.npy", npy_bytes(kFloatDict, float32_data({1, 2})), 8}});
    archive[30 + 5] = 0xff; // first byte of the deflate data: an invalid block type
    EXPECT_THAT(npz_error(archive), HasSubstr("entry 'a.npy'"));
}

TEST_F(NpzFiles, ImplausibleDeflatedSizeIsRejected) {
    Bytes archive = make_zip({{"a.npy", npy_bytes(kFloatDict, float32_data({1, 2})), 8}});
    // Claim 4 GiB - 2 bytes of output in the central directory.
    const std::size_t size_field = archive.size() - 22 - (46 + 5) + 24;
    for (int i = 0; i < 4; ++i) {
        archive[size_field + i] = i == 0 ? 0xfe : 0xff;
    }
    EXPECT_THAT(npz_error(archive), HasSubstr("more than deflate can produce"));
}

TEST_F(NpzFiles, StructuralProblemsAreNamed) {
    const Bytes npy = npy_bytes(kFloatDict, float32_data({1, 2}));
    EXPECT_THAT(npz_error(make_zip({{"a.npy", npy}, {"a.npy", npy}})),
                HasSubstr("entry 'a.npy' appears twice"));
    EXPECT_THAT(npz_error(make_zip({{"notes.txt", to_bytes("hello")}})),
                HasSubstr("entry 'notes.txt' is not a .npy file"));
    EXPECT_THAT(npz_error(make_zip({{"a.npy", npy, 12}})),
                HasSubstr("entry 'a.npy' uses compression method 12"));
    EXPECT_THAT(npz_error(to_bytes("not a zip at all")), HasSubstr("not a ZIP archive"));
}

// Every single-byte change of a small archive either loads or throws FormatError; none may
// crash or read out of bounds (run under the sanitizers).
TEST_F(NpzFiles, MutationsNeverCrash) {
    const Bytes archive = make_zip({{"a.npy", npy_bytes(kFloatDict, float32_data({1, 2})), 8},
                                    {"b.npy", npy_bytes(kFloatDict, float32_data({3, 4}))}});
    for (std::size_t position = 0; position < archive.size(); ++position) {
        for (const std::uint8_t value : {0x00, 0x01, 0x7f, 0x80, 0xff}) {
            Bytes mutated = archive;
            mutated[position] = value;
            try {
                parse_npz(mutated.data(), mutated.size(), "mutated");
            } catch (const FormatError&) {}
        }
    }
}

} // namespace
