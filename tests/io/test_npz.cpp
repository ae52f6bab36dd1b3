#include "error_message.hpp"
#include "npz_bytes.hpp"
#include "tapegrad/errors.hpp"
#include "tapegrad/io/npz.hpp"
#include "temp_directory.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <string>
#include <type_traits>
#include <variant>
#include <vector>

namespace {

using tapegrad::FormatError;
using tapegrad::ShapeError;
using tapegrad::ValueError;
using tapegrad::io::decode_npy;
using tapegrad::io::DType;
using tapegrad::io::encode_npy;
using tapegrad::io::load_npz;
using tapegrad::io::NamedArray;
using tapegrad::io::parse_npz;
using tapegrad::io::save_npz;
using testing::HasSubstr;
namespace fs = std::filesystem;
using tapegrad::testing::Bytes;
using tapegrad::testing::float32_data;
using tapegrad::testing::float64_data;
using tapegrad::testing::int64_data;
using tapegrad::testing::make_zip;
using tapegrad::testing::message_of;
using tapegrad::testing::npy_bytes;
using tapegrad::testing::to_bytes;
using tapegrad::testing::Zip64;

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
    ASSERT_EQ(actual.dtype(), expected.dtype()) << expected.name;
    std::visit(
        [&](const auto& want) {
            using Vector = std::decay_t<decltype(want)>;
            const Vector& got = std::get<Vector>(actual.values);
            ASSERT_EQ(got.size(), want.size()) << expected.name;
            if (want.empty()) return; // data() may be null
            EXPECT_EQ(std::memcmp(got.data(), want.data(), want.size() * sizeof(want[0])), 0)
                << expected.name;
        },
        expected.values);
}

std::vector<NamedArray> sample_arrays() {
    std::vector<float> cube(2 * 3 * 4);
    for (std::size_t i = 0; i < cube.size(); ++i) {
        cube[i] = static_cast<float>(i) * 0.1f - 1.0f;
    }
    return {
        NamedArray::float32("fc1.weight", {2, 3, 4}, cube),
        NamedArray::float32("scale", {}, {3.25f}),
        NamedArray::float32("fc1.bias", {6},
                            {-0.0f, 1e-45f, std::numeric_limits<float>::max(),
                             std::numeric_limits<float>::infinity(),
                             std::numeric_limits<float>::quiet_NaN(), -7.5f}),
        NamedArray::float32("matrix", {1, 2}, {1.0f, 2.0f}),
    };
}

// One array of each dtype, with the values at the edges of its range.
std::vector<NamedArray> arrays_of_every_dtype() {
    return {
        NamedArray::float32("weights", {2}, {-0.0f, std::numeric_limits<float>::denorm_min()}),
        NamedArray::float64("mean", {3},
                            {std::numeric_limits<double>::lowest(),
                             std::numeric_limits<double>::denorm_min(),
                             std::numeric_limits<double>::quiet_NaN()}),
        NamedArray::int64("steps", {2, 2},
                          {std::numeric_limits<std::int64_t>::min(), -1, 0,
                           std::numeric_limits<std::int64_t>::max()}),
        NamedArray::uint8("rng_state", {5}, {0, 1, 0x7f, 0x80, 0xff}),
        NamedArray::int64("count", {}, {123456789012345}),
        NamedArray::uint8("empty", {0}, {}),
    };
}

class NpzFiles : public tapegrad::testing::TempDirectoryTest {};

// ---- NPY ------------------------------------------------------------------------------------

TEST(Npy, EncodesNumpyLayout) {
    const std::string npy = encode_npy(NamedArray::float32("w", {2, 3}, {1, 2, 3, 4, 5, 6}));
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
    EXPECT_THAT(encode_npy(NamedArray::float32("s", {}, {1})), HasSubstr("'shape': (), }"));
    EXPECT_THAT(encode_npy(NamedArray::float32("v", {3}, {1, 2, 3})),
                HasSubstr("'shape': (3,), }"));
    EXPECT_THAT(encode_npy(NamedArray::float32("e", {0, 5}, {})), HasSubstr("'shape': (0, 5), }"));
}

TEST(Npy, EncodesEachDtypeAsNumpyDoes) {
    // The bytes NumPy writes for these arrays, built without tapegrad's encoder.
    const auto dict = [](const std::string& descr, const std::string& shape) {
        return "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + shape + ", }";
    };
    EXPECT_EQ(to_bytes(encode_npy(NamedArray::float32("a", {2}, {1.5f, -2.0f}))),
              npy_bytes(dict("<f4", "(2,)"), float32_data({1.5f, -2.0f})));
    EXPECT_EQ(to_bytes(encode_npy(NamedArray::float64("a", {1, 2}, {0.1, -1e300}))),
              npy_bytes(dict("<f8", "(1, 2)"), float64_data({0.1, -1e300})));
    EXPECT_EQ(to_bytes(encode_npy(NamedArray::int64("a", {}, {-3}))),
              npy_bytes(dict("<i8", "()"), int64_data({-3})));
    EXPECT_EQ(to_bytes(encode_npy(NamedArray::uint8("a", {3}, {7, 0, 255}))),
              npy_bytes(dict("|u1", "(3,)"), Bytes{7, 0, 255}));
}

TEST(Npy, RoundTrip) {
    std::vector<NamedArray> arrays = sample_arrays();
    for (NamedArray& array : arrays_of_every_dtype()) arrays.push_back(std::move(array));
    for (const NamedArray& array : arrays) {
        const std::string npy = encode_npy(array);
        const NamedArray decoded =
            decode_npy(reinterpret_cast<const std::uint8_t*>(npy.data()), npy.size(), array.name);
        expect_same_array(decoded, array);
    }
}

TEST(Npy, EncodeRejectsValueCountMismatch) {
    try {
        encode_npy(NamedArray::float32("w", {2, 3}, {1, 2, 3, 4, 5}));
        ADD_FAILURE() << "expected ShapeError";
    } catch (const ShapeError& error) {
        EXPECT_THAT(error.what(), HasSubstr("entry 'w' has shape (2, 3) but 5 values"));
    }
    EXPECT_THROW(encode_npy(NamedArray::uint8("b", {4}, {1, 2, 3})), ShapeError);
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
        EXPECT_EQ(array.as_float32(), (std::vector<float>{1.5f, -2.0f})) << dict;
    }
}

TEST(Npy, ScalarAndVersion2) {
    const Bytes scalar =
        npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (), }", float32_data({4}));
    EXPECT_EQ(decode_npy(scalar.data(), scalar.size(), "s").shape.size(), 0u);
    const Bytes version2 = npy_bytes(kFloatDict, float32_data({1, 2}), 2);
    EXPECT_EQ(decode_npy(version2.data(), version2.size(), "v").as_float32(),
              (std::vector<float>{1, 2}));
}

TEST(Npy, DecodesEachDtype) {
    const auto decoded = [](const std::string& descr, const Bytes& data) {
        const Bytes npy =
            npy_bytes("{'descr': '" + descr + "', 'fortran_order': False, 'shape': (2,), }", data);
        return decode_npy(npy.data(), npy.size(), "w");
    };
    EXPECT_EQ(decoded("<f8", float64_data({0.25, -3})).as_float64(),
              (std::vector<double>{0.25, -3}));
    EXPECT_EQ(decoded("<i8", int64_data({-1, 1LL << 40})).as_int64(),
              (std::vector<std::int64_t>{-1, 1LL << 40}));
    EXPECT_EQ(decoded("|u1", Bytes{200, 3}).as_uint8(), (std::vector<std::uint8_t>{200, 3}));
    EXPECT_EQ(decoded("|u1", Bytes{200, 3}).dtype(), DType::uint8);
}

TEST(Npy, RejectsOtherDtypes) {
    for (const std::string descr : {">f4", ">f8", ">i8", "<i4", "<u8", "|b1", "<f2", "|i1"}) {
        const Bytes npy = npy_bytes(
            "{'descr': '" + descr + "', 'fortran_order': False, 'shape': (2,), }", Bytes(16, 0));
        EXPECT_THAT(npy_error(npy), HasSubstr("decode_npy: entry 'w' has dtype '" + descr +
                                              "', expected '<f4', '<f8', '<i8' or '|u1'"));
    }
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
    EXPECT_THAT(
        npy_error(
            npy_bytes("{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }", Bytes(16, 0))),
        HasSubstr("entry 'w' with shape (3,) needs 24 bytes of int64 data, has 16 (truncated)"));
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

// ---- NamedArray -----------------------------------------------------------------------------

TEST(NamedArray, FactoriesSetTheDtype) {
    EXPECT_EQ(NamedArray::float32("a", {1}, {1}).dtype(), DType::float32);
    EXPECT_EQ(NamedArray::float64("a", {1}, {1}).dtype(), DType::float64);
    EXPECT_EQ(NamedArray::int64("a", {1}, {1}).dtype(), DType::int64);
    EXPECT_EQ(NamedArray::uint8("a", {1}, {1}).dtype(), DType::uint8);
    const NamedArray counter = NamedArray::int64("step", {}, {42});
    EXPECT_EQ(counter.as_int64(), (std::vector<std::int64_t>{42}));
    EXPECT_STREQ(tapegrad::io::dtype_name(DType::uint8), "uint8");
    EXPECT_STREQ(tapegrad::io::npy_descr(DType::float64), "<f8");
}

TEST(NamedArray, AccessorOfAnotherDtypeNamesTheEntry) {
    const NamedArray steps = NamedArray::int64("steps", {1}, {7});
    EXPECT_EQ(message_of<FormatError>([&] { steps.as_float32(); }),
              "as_float32: entry 'steps' has dtype '<i8', expected '<f4' (float32)");
    const NamedArray weights = NamedArray::float32("w", {1}, {7});
    EXPECT_EQ(message_of<FormatError>([&] { weights.as_float64(); }),
              "as_float64: entry 'w' has dtype '<f4', expected '<f8' (float64)");
    EXPECT_THAT(message_of<FormatError>([&] { weights.as_int64(); }), HasSubstr("entry 'w'"));
    EXPECT_THAT(message_of<FormatError>([&] { weights.as_uint8(); }), HasSubstr("entry 'w'"));
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
    save_npz(path("a.npz"), {NamedArray::float32("x", {1}, {1})});
    save_npz(path("a.npz"), sample_arrays());
    save_npz(path("b.npz"), sample_arrays());
    EXPECT_EQ(read_back(path("a.npz")), read_back(path("b.npz")));
}

TEST_F(NpzFiles, RoundTripOfEveryDtype) {
    const std::vector<NamedArray> arrays = arrays_of_every_dtype();
    save_npz(path("state.npz"), arrays);
    const std::vector<NamedArray> loaded = load_npz(path("state.npz"));
    ASSERT_EQ(loaded.size(), arrays.size());
    for (std::size_t i = 0; i < arrays.size(); ++i) {
        expect_same_array(loaded[i], arrays[i]);
    }
}

TEST_F(NpzFiles, EntriesAreStoredNpyFiles) {
    const NamedArray array = NamedArray::float32("w", {2}, {1, 2});
    save_npz(path("a.npz"), {array});
    const Bytes archive = read_back(path("a.npz"));
    // The first local header: its signature, compression method 0 (stored) and name.
    ASSERT_GT(archive.size(), 35u);
    EXPECT_EQ(Bytes(archive.begin(), archive.begin() + 4), (Bytes{'P', 'K', 3, 4}));
    EXPECT_EQ(archive[8] | archive[9] << 8, 0);
    EXPECT_EQ(std::string(archive.begin() + 30, archive.begin() + 35), "w.npy");
    const Bytes npy = to_bytes(encode_npy(array));
    EXPECT_NE(std::search(archive.begin(), archive.end(), npy.begin(), npy.end()), archive.end());
}

TEST_F(NpzFiles, SaveValidatesArrays) {
    EXPECT_THROW(save_npz(path("a.npz"), {NamedArray::float32("w", {2, 2}, {1})}), ShapeError);
    EXPECT_THROW(save_npz(path("a.npz"),
                          {NamedArray::float32("w", {1}, {1}), NamedArray::int64("w", {1}, {2})}),
                 ValueError);
    EXPECT_THROW(save_npz(path("a.npz"), {NamedArray::float32("", {1}, {1})}), ValueError);
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
                HasSubstr("load_npz: " + file + ": cannot open file: No such file or directory"));
}

TEST_F(NpzFiles, DirectoryOrEmptyFile) {
    fs::create_directory(path("dir.npz"));
    EXPECT_THAT(message_of<FormatError>([&] { load_npz(path("dir.npz")); }),
                HasSubstr("load_npz: " + path("dir.npz") + ": cannot read file: Is a directory"));
    const std::string empty = write("empty.npz", {});
    EXPECT_THAT(message_of<FormatError>([&] { load_npz(empty); }),
                HasSubstr("load_npz: " + empty + ": not a ZIP archive (it is empty)"));
}

TEST_F(NpzFiles, Float64EntryLoadedAsFloat32IsNamed) {
    const Bytes f8 = npy_bytes("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), }",
                               float64_data({1, 2, 3, 4}));
    const std::string file =
        write("params.npz", make_zip({{"fc1.bias.npy", npy_bytes(kFloatDict, float32_data({1, 2}))},
                                      {"fc1.weight.npy", f8}}));
    const std::vector<NamedArray> arrays = load_npz(file);
    ASSERT_EQ(arrays.size(), 2u);
    EXPECT_EQ(arrays[1].as_float64(), (std::vector<double>{1, 2, 3, 4}));
    EXPECT_EQ(message_of<FormatError>([&] { arrays[1].as_float32(); }),
              "as_float32: entry 'fc1.weight' has dtype '<f8', expected '<f4' (float32)");
}

TEST_F(NpzFiles, UnsupportedDtypeNamesFileAndEntry) {
    const Bytes i4 =
        npy_bytes("{'descr': '<i4', 'fortran_order': False, 'shape': (2, 2), }", Bytes(16, 0));
    const std::string file = write("params.npz", make_zip({{"fc1.weight.npy", i4}}));
    EXPECT_THAT(message_of<FormatError>([&] { load_npz(file); }),
                HasSubstr("load_npz: " + file +
                          ": entry 'fc1.weight' has dtype '<i4', expected "
                          "'<f4', '<f8', '<i8' or '|u1'"));
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
    EXPECT_EQ(arrays[0].as_float32(), values);
    EXPECT_EQ(arrays[1].as_float32(), (std::vector<float>{1, 2}));
}

// ZIP64 as NumPy writes it for every archive (sizes in the local headers' extra fields) and as
// archives beyond 4 GiB carry it (also in the central directory, plus the ZIP64 end records).
TEST_F(NpzFiles, Zip64ArchivesLoad) {
    const Bytes big = npy_bytes("{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }",
                                int64_data({-1, 0, 1LL << 62}));
    const Bytes small = npy_bytes(kFloatDict, float32_data({1, 2}));
    for (const Zip64 zip64 : {Zip64::local_headers, Zip64::everywhere}) {
        const Bytes archive =
            make_zip({{"steps.npy", big, 8}, {"w.npy", small, 0}, {"b.npy", small, 8}}, zip64);
        const Bytes end_record64 = {'P', 'K', 6, 6};
        EXPECT_EQ(std::search(archive.begin(), archive.end(), end_record64.begin(),
                              end_record64.end()) != archive.end(),
                  zip64 == Zip64::everywhere);
        const std::string file = write("zip64.npz", archive);
        for (const std::vector<NamedArray>& arrays :
             {load_npz(file), parse_npz(archive.data(), archive.size(), "mem")}) {
            ASSERT_EQ(arrays.size(), 3u);
            EXPECT_EQ(arrays[0].name, "steps");
            EXPECT_EQ(arrays[0].as_int64(), (std::vector<std::int64_t>{-1, 0, 1LL << 62}));
            EXPECT_EQ(arrays[1].as_float32(), (std::vector<float>{1, 2}));
            EXPECT_EQ(arrays[2].name, "b");
            EXPECT_EQ(arrays[2].as_float32(), (std::vector<float>{1, 2}));
        }
        for (std::size_t length = 0; length < archive.size(); ++length) {
            const Bytes prefix(archive.begin(),
                               archive.begin() + static_cast<std::ptrdiff_t>(length));
            EXPECT_THROW(parse_npz(prefix.data(), prefix.size(), "prefix"), FormatError) << length;
        }
    }
}

TEST_F(NpzFiles, EveryPrefixIsRejected) {
    save_npz(path("small.npz"),
             {NamedArray::float32("a", {2}, {1, 2}), NamedArray::uint8("b", {}, {3})});
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
    const NamedArray array = NamedArray::float32("w", {4}, {1, 2, 3, 4});
    save_npz(path("a.npz"), {array});
    Bytes archive = read_back(path("a.npz"));
    const Bytes npy = to_bytes(encode_npy(array));
    const auto data = std::search(archive.begin(), archive.end(), npy.begin(), npy.end());
    ASSERT_NE(data, archive.end());
    // A bit of the last float: the NPY entry itself stays valid, only its CRC no longer fits.
    *(data + static_cast<std::ptrdiff_t>(npy.size()) - 3) ^= 0x01;
    EXPECT_THAT(npz_error(archive),
                HasSubstr("parse_npz: test.npz: entry 'w.npy' fails its CRC-32 check"));
    const std::string file = write("corrupt.npz", archive);
    EXPECT_THAT(message_of<FormatError>([&] { load_npz(file); }),
                HasSubstr("load_npz: " + file + ": entry 'w.npy' fails its CRC-32 check"));
}

TEST_F(NpzFiles, CorruptDeflateStream) {
    Bytes archive = make_zip({{"a.npy", npy_bytes(kFloatDict, float32_data({1, 2})), 8}});
    archive[30 + 5] = 0xff; // first byte of the deflate data: an invalid block type
    EXPECT_THAT(npz_error(archive), HasSubstr("entry 'a.npy'"));
}

TEST_F(NpzFiles, ImplausibleDeflatedSizeIsRejected) {
    Bytes archive = make_zip({{"a.npy", npy_bytes(kFloatDict, float32_data({1, 2})), 8}});
    // Claim 4 GiB - 2 bytes of output in the local header and the central directory.
    for (const std::size_t size_field : {std::size_t{22}, archive.size() - 22 - (46 + 5) + 24}) {
        for (int i = 0; i < 4; ++i) {
            archive[size_field + i] = i == 0 ? 0xfe : 0xff;
        }
    }
    EXPECT_THAT(npz_error(archive), HasSubstr("entry 'a.npy' claims 4294967294 bytes from"));
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
    for (const Zip64 zip64 : {Zip64::none, Zip64::everywhere}) {
        const Bytes archive = make_zip({{"a.npy", npy_bytes(kFloatDict, float32_data({1, 2})), 8},
                                        {"b.npy", npy_bytes(kFloatDict, float32_data({3, 4}))}},
                                       zip64);
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
}

} // namespace
