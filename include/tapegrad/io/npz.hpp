#pragma once
// NumPy .npy and .npz files, so that arrays saved here load with Python's np.load and arrays
// saved by np.savez / np.savez_compressed load here. Arrays hold float32, float64, int64 or
// uint8 elements (NumPy's '<f4', '<f8', '<i8' and '|u1').

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace tapegrad::io {

/// The element types an array can hold, in the order of NamedArray::Values.
enum class DType { float32, float64, int64, uint8 };

/// "float32", "float64", "int64" or "uint8".
const char* dtype_name(DType dtype);

/// NumPy's dtype string: "<f4", "<f8", "<i8" or "|u1".
const char* npy_descr(DType dtype);

/// One array and the name it is stored under. Most arrays are float32:
///     auto w = NamedArray::float32("w", {2, 3}, values);
///     const std::vector<float>& v = loaded.as_float32(); // FormatError if not float32
struct NamedArray {
    using Values = std::variant<std::vector<float>, std::vector<double>, std::vector<std::int64_t>,
                                std::vector<std::uint8_t>>;

    std::string name;               ///< entry name without ".npy"
    std::vector<std::size_t> shape; ///< () for a scalar
    Values values;                  ///< row-major; the alternative held is the dtype

    static NamedArray float32(std::string name, std::vector<std::size_t> shape,
                              std::vector<float> values) {
        return {std::move(name), std::move(shape), std::move(values)};
    }
    static NamedArray float64(std::string name, std::vector<std::size_t> shape,
                              std::vector<double> values) {
        return {std::move(name), std::move(shape), std::move(values)};
    }
    static NamedArray int64(std::string name, std::vector<std::size_t> shape,
                            std::vector<std::int64_t> values) {
        return {std::move(name), std::move(shape), std::move(values)};
    }
    static NamedArray uint8(std::string name, std::vector<std::size_t> shape,
                            std::vector<std::uint8_t> values) {
        return {std::move(name), std::move(shape), std::move(values)};
    }

    DType dtype() const noexcept { return static_cast<DType>(values.index()); }

    /// The values if the array holds that type; otherwise throws FormatError naming the
    /// entry and both dtypes.
    const std::vector<float>& as_float32() const;
    const std::vector<double>& as_float64() const;
    const std::vector<std::int64_t>& as_int64() const;
    const std::vector<std::uint8_t>& as_uint8() const;
};

/// Writes `arrays` as an uncompressed .npz (a ZIP of NAME.npy entries, ZIP64 where sizes or
/// counts need it) to `path`, through `path + ".tmp"` and a rename so a crash never leaves a
/// half-written file. Every entry is encoded before the archive is written, so the encoded
/// copies take as much memory as the arrays. Throws ShapeError if an array's values do not
/// match its shape, ValueError for an empty or repeated name, and FormatError if the file
/// cannot be written.
void save_npz(const std::string& path, const std::vector<NamedArray>& arrays);

/// Reads a .npz file; entries keep their order in the archive. Throws FormatError.
std::vector<NamedArray> load_npz(const std::string& path);

/// Parses .npz bytes already in memory; `source` names them in error messages. Accepts
/// stored and deflated entries and ZIP64 archives, verifies each CRC-32 and rejects anything
/// that is not a little-endian, C-order .npy entry of one of the four dtypes. Throws
/// FormatError.
std::vector<NamedArray> parse_npz(const std::uint8_t* bytes, std::size_t size,
                                  const std::string& source);

/// Encodes one array as NPY version 1.0 bytes, fortran_order False. Throws ShapeError if the
/// values do not match the shape.
std::string encode_npy(const NamedArray& array);

/// Decodes NPY version 1.0 or 2.0 bytes holding a C-order array of one of the four dtypes;
/// `name` becomes the result's name and appears in error messages. Throws FormatError.
NamedArray decode_npy(const std::uint8_t* bytes, std::size_t size, const std::string& name);

} // namespace tapegrad::io
