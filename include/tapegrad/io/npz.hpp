#pragma once
// NumPy .npy and .npz files of float32 arrays, so that parameters saved here load with
// Python's np.load and arrays saved by np.savez / np.savez_compressed load here.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace tapegrad::io {

/// One float32 array and the name it is stored under.
struct NamedArray {
    std::string name;               ///< entry name without ".npy"
    std::vector<std::size_t> shape; ///< () for a scalar
    std::vector<float> values;      ///< float32, row-major
};

/// Writes `arrays` as an uncompressed .npz (a ZIP of NAME.npy entries) to `path`, through
/// `path + ".tmp"` and a rename so a crash never leaves a half-written file. Throws ShapeError
/// if an array's values do not match its shape, ValueError for an empty or repeated name, and
/// FormatError if the file cannot be written or exceeds ZIP limits (4 GiB, 65535 entries;
/// zip64 is not written).
void save_npz(const std::string& path, const std::vector<NamedArray>& arrays);

/// Reads a .npz file; entries keep their order in the archive. Throws FormatError.
std::vector<NamedArray> load_npz(const std::string& path);

/// Parses .npz bytes already in memory; `source` names them in error messages. Accepts
/// stored and deflated entries, verifies each CRC-32 and rejects anything that is not a
/// little-endian float32, C-order .npy entry. Throws FormatError.
std::vector<NamedArray> parse_npz(const std::uint8_t* bytes, std::size_t size,
                                  const std::string& source);

/// Encodes one array as NPY version 1.0 bytes: dtype '<f4', fortran_order False. Throws
/// ShapeError if the values do not match the shape.
std::string encode_npy(const NamedArray& array);

/// Decodes NPY version 1.0 or 2.0 bytes holding a '<f4', C-order array; `name` becomes the
/// result's name and appears in error messages. Throws FormatError.
NamedArray decode_npy(const std::uint8_t* bytes, std::size_t size, const std::string& name);

} // namespace tapegrad::io
