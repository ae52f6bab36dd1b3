#include "tapegrad/io/npz.hpp"

#include "tapegrad/errors.hpp"

#include <zip.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iterator>
#include <limits>
#include <memory>
#include <new>
#include <set>
#include <stdexcept>
#include <type_traits>
#include <utility>

namespace tapegrad::io {
namespace {

// ---- Shared helpers ------------------------------------------------------------------------

constexpr char kNpyMagic[] = "\x93NUMPY";
constexpr std::size_t kNpyMagicSize = sizeof kNpyMagic - 1;
constexpr std::size_t kNpyAlignment = 64; // NumPy aligns the data of every .npy to 64 bytes

struct DTypeInfo {
    const char* descr;
    const char* name;
    std::size_t size; // bytes per element
};

// Indexed by DType, which follows the alternatives of NamedArray::Values.
constexpr DTypeInfo kDTypes[] = {
    {"<f4", "float32", 4}, {"<f8", "float64", 8}, {"<i8", "int64", 8}, {"|u1", "uint8", 1}};
static_assert(std::size(kDTypes) == std::variant_size_v<NamedArray::Values>);

const DTypeInfo& info(DType dtype) {
    const auto index = static_cast<std::size_t>(dtype);
    // A variant left valueless by an exception has no dtype; report it as invalid.
    static constexpr DTypeInfo kInvalid{"?", "invalid", 0};
    return index < std::size(kDTypes) ? kDTypes[index] : kInvalid;
}

std::string shape_text(const std::vector<std::size_t>& shape) {
    std::string text = "(";
    for (std::size_t i = 0; i < shape.size(); ++i) {
        text += (i == 0 ? "" : ", ") + std::to_string(shape[i]);
    }
    // A one-element Python tuple needs a trailing comma: (3,).
    return text + (shape.size() == 1 ? ",)" : ")");
}

bool multiply_overflows(std::size_t a, std::size_t b, std::size_t& product) {
    if (b != 0 && a > std::numeric_limits<std::size_t>::max() / b) {
        return true;
    }
    product = a * b;
    return false;
}

// Number of elements of `shape`, or false if it does not fit in size_t.
bool element_count(const std::vector<std::size_t>& shape, std::size_t& count) {
    count = 1;
    for (const std::size_t dim : shape) {
        if (multiply_overflows(count, dim, count)) {
            return false;
        }
    }
    return true;
}

// The unsigned integer as wide as T, through which values are (de)serialised byte by byte so
// that files are little-endian whatever the host's byte order.
template <class T>
using Bits = std::conditional_t<sizeof(T) == 1, std::uint8_t,
                                std::conditional_t<sizeof(T) == 4, std::uint32_t, std::uint64_t>>;

template <class T> void append_little_endian(std::string& out, const std::vector<T>& values) {
    const std::size_t start = out.size();
    out.resize(start + sizeof(T) * values.size());
    char* at = &out[start];
    for (const T value : values) {
        Bits<T> bits;
        std::memcpy(&bits, &value, sizeof(T));
        for (std::size_t byte = 0; byte < sizeof(T); ++byte) {
            *at++ = static_cast<char>(bits >> (8 * byte));
        }
    }
}

template <class T> std::vector<T> from_little_endian(const std::uint8_t* data, std::size_t count) {
    std::vector<T> values(count);
    for (T& value : values) {
        Bits<T> bits = 0;
        for (std::size_t byte = 0; byte < sizeof(T); ++byte) {
            bits |= static_cast<Bits<T>>(Bits<T>{*data++} << (8 * byte));
        }
        std::memcpy(&value, &bits, sizeof(T));
    }
    return values;
}

NamedArray::Values read_values(DType dtype, const std::uint8_t* data, std::size_t count) {
    switch (dtype) {
    case DType::float32:
        return from_little_endian<float>(data, count);
    case DType::float64:
        return from_little_endian<double>(data, count);
    case DType::int64:
        return from_little_endian<std::int64_t>(data, count);
    case DType::uint8:
        return from_little_endian<std::uint8_t>(data, count);
    }
    throw std::logic_error("read_values: unknown dtype");
}

std::size_t read_u16(const std::uint8_t* at) {
    return at[0] | std::size_t{at[1]} << 8;
}

std::size_t read_u32(const std::uint8_t* at) {
    return read_u16(at) | read_u16(at + 2) << 16;
}

std::string entry_context(const std::string& prefix, const std::string& name) {
    return prefix + ": entry '" + name + "'";
}

// ---- NPY header parsing --------------------------------------------------------------------

struct NpyHeader {
    std::string descr;
    bool fortran_order = false;
    std::vector<std::size_t> shape;
};

// Parses the Python dict literal of an NPY header, e.g.
// {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
// in any key order and spacing. Only the literals NumPy writes are understood.
class HeaderParser {
public:
    HeaderParser(std::string text, std::string context)
        : text_(std::move(text)), context_(std::move(context)) {}

    NpyHeader parse() {
        NpyHeader header;
        std::set<std::string> seen;
        expect('{');
        while (!accept('}')) {
            const std::string key = string_literal();
            if (!seen.insert(key).second) {
                fail("key '" + key + "' appears twice");
            }
            expect(':');
            if (key == "descr") {
                header.descr = string_literal();
            } else if (key == "fortran_order") {
                header.fortran_order = boolean_literal();
            } else if (key == "shape") {
                header.shape = shape_tuple();
            } else {
                fail("unexpected key '" + key + "'");
            }
            if (!accept(',')) {
                expect('}');
                break;
            }
        }
        skip_space();
        if (position_ != text_.size()) {
            fail("unexpected text after the closing brace");
        }
        for (const char* key : {"descr", "fortran_order", "shape"}) {
            if (seen.count(key) == 0) {
                fail(std::string("key '") + key + "' is missing");
            }
        }
        return header;
    }

private:
    [[noreturn]] void fail(const std::string& problem) const {
        throw FormatError(context_ + ": malformed NPY header: " + problem + " (at offset " +
                          std::to_string(position_) + " of the header)");
    }

    void skip_space() {
        while (position_ < text_.size() && (text_[position_] == ' ' || text_[position_] == '\t' ||
                                            text_[position_] == '\r' || text_[position_] == '\n')) {
            ++position_;
        }
    }

    // Skips spaces, then consumes `symbol` if it is next.
    bool accept(char symbol) {
        skip_space();
        if (position_ < text_.size() && text_[position_] == symbol) {
            ++position_;
            return true;
        }
        return false;
    }

    void expect(char symbol) {
        if (!accept(symbol)) {
            fail(std::string("expected '") + symbol + "'");
        }
    }

    bool accept_word(const std::string& word) {
        skip_space();
        if (text_.compare(position_, word.size(), word) == 0) {
            position_ += word.size();
            return true;
        }
        return false;
    }

    std::string string_literal() {
        skip_space();
        if (position_ >= text_.size() || (text_[position_] != '\'' && text_[position_] != '"')) {
            fail("expected a quoted string");
        }
        const char quote = text_[position_++];
        const std::size_t end = text_.find(quote, position_);
        if (end == std::string::npos) {
            fail("unterminated string");
        }
        std::string value = text_.substr(position_, end - position_);
        position_ = end + 1;
        return value;
    }

    bool boolean_literal() {
        if (accept_word("True")) {
            return true;
        }
        if (accept_word("False")) {
            return false;
        }
        fail("expected True or False");
    }

    // A tuple of non-negative integers: (), (3,), (2, 3). Python 2 wrote longs as 3L.
    std::vector<std::size_t> shape_tuple() {
        std::vector<std::size_t> shape;
        expect('(');
        while (!accept(')')) {
            skip_space();
            if (position_ >= text_.size() || text_[position_] < '0' || text_[position_] > '9') {
                fail("expected a dimension");
            }
            std::size_t dim = 0;
            while (position_ < text_.size() && text_[position_] >= '0' && text_[position_] <= '9') {
                if (multiply_overflows(dim, 10, dim) ||
                    dim > std::numeric_limits<std::size_t>::max() -
                              static_cast<std::size_t>(text_[position_] - '0')) {
                    fail("dimension too large");
                }
                dim += static_cast<std::size_t>(text_[position_++] - '0');
            }
            accept('L');
            shape.push_back(dim);
            if (!accept(',')) {
                expect(')');
                break;
            }
        }
        return shape;
    }

    std::string text_;
    std::string context_;
    std::size_t position_ = 0;
};

// ---- NPY decoding --------------------------------------------------------------------------

// `context` ends with the entry's name, e.g. "load_npz: a.npz: entry 'w'", and starts every
// message.
NamedArray decode(const std::uint8_t* bytes, std::size_t size, const std::string& name,
                  const std::string& context) {
    if (size < kNpyMagicSize + 4 || std::memcmp(bytes, kNpyMagic, kNpyMagicSize) != 0) {
        throw FormatError(context + " is not an NPY array: it does not start with \\x93NUMPY");
    }
    const std::uint8_t major = bytes[6];
    const std::uint8_t minor = bytes[7];
    // Version 1.0 stores the header length in 2 bytes, version 2.0 in 4.
    std::size_t prefix_size = 10;
    std::size_t header_size = read_u16(bytes + 8);
    if (major == 2 && minor == 0) {
        prefix_size = 12;
        if (size < prefix_size) {
            throw FormatError(context + " is truncated inside its NPY 2.0 header length");
        }
        header_size = read_u32(bytes + 8);
    } else if (major != 1 || minor != 0) {
        throw FormatError(context + " has NPY version " + std::to_string(major) + "." +
                          std::to_string(minor) + ", expected 1.0 or 2.0");
    }
    if (header_size > size - prefix_size) {
        throw FormatError(context + " has an NPY header of " + std::to_string(header_size) +
                          " bytes but only " + std::to_string(size - prefix_size) +
                          " bytes follow the prefix");
    }
    const NpyHeader header =
        HeaderParser(std::string(reinterpret_cast<const char*>(bytes + prefix_size), header_size),
                     context)
            .parse();
    std::size_t index = 0;
    while (index < std::size(kDTypes) && header.descr != kDTypes[index].descr) ++index;
    if (index == std::size(kDTypes)) {
        throw FormatError(context + " has dtype '" + header.descr +
                          "', expected '<f4', '<f8', '<i8' or '|u1'");
    }
    const auto dtype = static_cast<DType>(index);
    if (header.fortran_order) {
        throw FormatError(context + " is stored in Fortran order; only C order is supported");
    }
    std::size_t count = 0;
    std::size_t data_size = 0;
    if (!element_count(header.shape, count) ||
        multiply_overflows(count, info(dtype).size, data_size)) {
        throw FormatError(context + " has shape " + shape_text(header.shape) +
                          ", too large to address");
    }
    const std::uint8_t* data = bytes + prefix_size + header_size;
    const std::size_t available = size - prefix_size - header_size;
    if (available != data_size) {
        throw FormatError(context + " with shape " + shape_text(header.shape) + " needs " +
                          std::to_string(data_size) + " bytes of " + info(dtype).name +
                          " data, has " + std::to_string(available) +
                          (available < data_size ? " (truncated)" : " (trailing bytes)"));
    }
    return NamedArray{name, header.shape, read_values(dtype, data, count)};
}

// ---- ZIP reading (libzip) ------------------------------------------------------------------

// libzip's text for `error`, which it frees with the error.
std::string error_text(zip_error_t& error) {
    if (zip_error_code_zip(&error) == ZIP_ER_MEMORY) {
        zip_error_fini(&error);
        throw std::bad_alloc();
    }
    std::string text = zip_error_strerror(&error);
    zip_error_fini(&error);
    return text;
}

// Owners of libzip's objects: zip_discard closes an archive without writing anything.
template <auto release> struct Releaser {
    template <class T> void operator()(T* object) const { release(object); }
};
using Archive = std::unique_ptr<zip_t, Releaser<zip_discard>>;
using Entry = std::unique_ptr<zip_file_t, Releaser<zip_fclose>>;
using Source = std::unique_ptr<zip_source_t, Releaser<zip_source_free>>;

// The name that two central directory entries share. ZIP_CHECKCONS rejects such archives
// without saying which name it is, so this looks without it (and reads no entry).
std::string repeated_name(zip_source_t* source) {
    zip_source_keep(source); // the archive takes this reference if it opens
    const Archive archive(zip_open_from_source(source, ZIP_RDONLY, nullptr));
    if (!archive) {
        zip_source_free(source);
        return "?";
    }
    std::set<std::string> names;
    for (zip_int64_t index = 0; index < zip_get_num_entries(archive.get(), 0); ++index) {
        const char* name = zip_get_name(archive.get(), static_cast<zip_uint64_t>(index), 0);
        if (name != nullptr && !names.insert(name).second) return name;
    }
    return "?";
}

// Opens the archive in `source`, which it takes over. ZIP_CHECKCONS has libzip compare every
// local header with the central directory and check that entries lie before it, which also
// bounds the compressed sizes it reports by the archive's size.
Archive open_archive(zip_source_t* source, const std::string& context) {
    const Source reference(source);
    zip_stat_t stat;
    if (zip_source_stat(source, &stat) == 0 && (stat.valid & ZIP_STAT_SIZE) && stat.size == 0) {
        // libzip treats empty data as an empty archive; np.load does not.
        throw FormatError(context + ": not a ZIP archive (it is empty)");
    }
    zip_error_t error;
    zip_error_init(&error);
    zip_source_keep(source); // the archive takes this reference if it opens
    zip_t* archive = zip_open_from_source(source, ZIP_RDONLY | ZIP_CHECKCONS, &error);
    if (archive != nullptr) return Archive(archive);
    zip_source_free(source);
    const int code = zip_error_code_zip(&error);
    const std::string reason = error_text(error);
    if (code == ZIP_ER_NOZIP) {
        throw FormatError(context +
                          ": not a ZIP archive (no end-of-central-directory record; truncated?)");
    }
    if (code == ZIP_ER_EXISTS) {
        throw FormatError(entry_context(context, repeated_name(source)) + " appears twice");
    }
    throw FormatError(context + ": corrupt ZIP archive: " + reason);
}

// Reads the whole entry. libzip inflates it, and checks its CRC-32 and size once a read
// finds the end, so reading goes on until one returns nothing.
std::vector<std::uint8_t> read_entry(zip_t* archive, zip_uint64_t index, std::size_t size,
                                     const std::string& where) {
    const Entry file(zip_fopen_index(archive, index, 0));
    if (!file) {
        throw FormatError(where + " cannot be opened: " + error_text(*zip_get_error(archive)));
    }
    // One spare byte, so that data longer than declared shows as such.
    std::vector<std::uint8_t> contents(size + 1);
    std::size_t done = 0;
    zip_int64_t got;
    while ((got = zip_fread(file.get(), &contents[done], contents.size() - done)) > 0) {
        done += static_cast<std::size_t>(got);
        if (done > size) {
            throw FormatError(where + " holds more than the " + std::to_string(size) +
                              " bytes the central directory says");
        }
    }
    if (got < 0) {
        zip_error_t& error = *zip_file_get_error(file.get());
        const int code = zip_error_code_zip(&error);
        const std::string reason = error_text(error);
        if (code == ZIP_ER_CRC) {
            throw FormatError(where + " fails its CRC-32 check");
        }
        if (code == ZIP_ER_ZLIB || code == ZIP_ER_COMPRESSED_DATA) {
            throw FormatError(where + " has a corrupt deflate stream: " + reason);
        }
        throw FormatError(where + " cannot be read: " + reason);
    }
    if (done < size) {
        throw FormatError(where + " ends after " + std::to_string(done) + " of its " +
                          std::to_string(size) + " bytes (truncated or corrupt)");
    }
    contents.pop_back();
    return contents;
}

std::vector<NamedArray> read_archive(zip_t* archive, const std::string& context) {
    // No deflate stream expands by more than this (a 258-byte match per 2 bits of input), so a
    // larger claimed size is corrupt and must not drive an allocation.
    constexpr zip_uint64_t kMaxDeflateRatio = 1032;
    const std::string suffix = ".npy";
    std::vector<NamedArray> arrays;
    std::set<std::string> names;
    const zip_int64_t count = zip_get_num_entries(archive, 0);
    for (zip_uint64_t index = 0; index < static_cast<zip_uint64_t>(count); ++index) {
        zip_stat_t stat;
        if (zip_stat_index(archive, index, 0, &stat) != 0) {
            throw FormatError(context + ": central directory entry " + std::to_string(index) +
                              ": " + error_text(*zip_get_error(archive)));
        }
        const std::string entry = stat.name;
        const std::string where = entry_context(context, entry);
        if (!names.insert(entry).second) {
            throw FormatError(where + " appears twice");
        }
        if (entry.size() < suffix.size() ||
            entry.compare(entry.size() - suffix.size(), suffix.size(), suffix) != 0) {
            throw FormatError(where + " is not a .npy file");
        }
        if (stat.encryption_method != ZIP_EM_NONE) {
            throw FormatError(where + " is encrypted");
        }
        if (stat.comp_method == ZIP_CM_STORE && stat.comp_size != stat.size) {
            throw FormatError(where + " is stored with " + std::to_string(stat.comp_size) +
                              " bytes but claims " + std::to_string(stat.size));
        }
        if (stat.comp_method == ZIP_CM_DEFLATE && stat.size / kMaxDeflateRatio > stat.comp_size) {
            throw FormatError(where + " claims " + std::to_string(stat.size) + " bytes from " +
                              std::to_string(stat.comp_size) +
                              " deflated bytes, more than deflate can produce");
        }
        if (stat.comp_method != ZIP_CM_STORE && stat.comp_method != ZIP_CM_DEFLATE) {
            throw FormatError(where + " uses compression method " +
                              std::to_string(stat.comp_method) +
                              ", expected 0 (stored) or 8 (deflate)");
        }
        if (stat.size >= std::numeric_limits<std::size_t>::max()) {
            throw FormatError(where + " of " + std::to_string(stat.size) +
                              " bytes is too large to address");
        }
        const std::vector<std::uint8_t> contents =
            read_entry(archive, index, static_cast<std::size_t>(stat.size), where);
        const std::string name = entry.substr(0, entry.size() - suffix.size());
        arrays.push_back(
            decode(contents.data(), contents.size(), name, entry_context(context, name)));
    }
    return arrays;
}

// ---- ZIP writing (libzip) ------------------------------------------------------------------

[[noreturn]] void fail_writing(const std::string& context, const std::string& action,
                               const std::string& file, const std::string& reason) {
    throw FormatError(context + ": " + action + " " + file + ": " + reason);
}

// libzip writes `file` through a temporary file of its own that it renames on zip_close.
void write_zip(const std::string& file, const std::vector<std::string>& entry_names,
               const std::vector<std::string>& contents, const std::string& context) {
    int code = 0;
    Archive archive(zip_open(file.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &code));
    if (!archive) {
        zip_error_t error;
        zip_error_init_with_code(&error, code);
        fail_writing(context, "cannot create", file, error_text(error));
    }
    // A fixed timestamp (1980-01-01 00:00, the DOS epoch) keeps saves byte-for-byte
    // reproducible.
    constexpr zip_uint16_t kDosTime = 0;
    constexpr zip_uint16_t kDosDate = (0 << 9) | (1 << 5) | 1;
    for (std::size_t i = 0; i < contents.size(); ++i) {
        // The buffers stay alive and unchanged until zip_close has written them.
        zip_source_t* source =
            zip_source_buffer(archive.get(), contents[i].data(), contents[i].size(), 0);
        const zip_int64_t index =
            source ? zip_file_add(archive.get(), entry_names[i].c_str(), source, 0) : -1;
        if (index < 0 && source) zip_source_free(source);
        const auto at = static_cast<zip_uint64_t>(index);
        if (index < 0 || zip_set_file_compression(archive.get(), at, ZIP_CM_STORE, 0) != 0 ||
            zip_file_set_dostime(archive.get(), at, kDosTime, kDosDate, 0) != 0) {
            fail_writing(context, "cannot add entry '" + entry_names[i] + "' to", file,
                         error_text(*zip_get_error(archive.get())));
        }
    }
    if (zip_close(archive.get()) != 0) {
        zip_error_t& error = *zip_get_error(archive.get());
        const bool create = zip_error_code_zip(&error) == ZIP_ER_TMPOPEN;
        // libzip's text names its own temporary file; the system error is what matters.
        const std::string reason = zip_error_system_type(&error) == ZIP_ET_SYS
                                       ? std::strerror(zip_error_code_system(&error))
                                       : error_text(error);
        fail_writing(context, create ? "cannot create" : "cannot write", file, reason);
    }
    (void)archive.release(); // zip_close freed it
}

// An archive without entries is just the 22-byte end-of-central-directory record, which
// np.savez writes too; libzip deletes an archive that has no entries instead.
void write_empty_zip(const std::string& file, const std::string& context) {
    constexpr char kEndRecord[22] = {'P', 'K', 5, 6};
    const std::unique_ptr<std::FILE, int (*)(std::FILE*)> out(std::fopen(file.c_str(), "wb"),
                                                              &std::fclose);
    if (!out) fail_writing(context, "cannot create", file, std::strerror(errno));
    if (std::fwrite(kEndRecord, 1, sizeof kEndRecord, out.get()) != sizeof kEndRecord ||
        std::fflush(out.get()) != 0) {
        fail_writing(context, "cannot write", file, std::strerror(errno));
    }
}

// Flushes `file` to disk, so that the rename that follows never exposes a file whose data is
// still only in the page cache.
void sync_file(const std::string& file, const std::string& context) {
    const int fd = open(file.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fsync(fd) != 0) {
        const std::string reason = std::strerror(errno);
        if (fd >= 0) close(fd);
        fail_writing(context, "cannot flush", file, reason);
    }
    if (close(fd) != 0) fail_writing(context, "cannot close", file, std::strerror(errno));
}

template <class T>
const std::vector<T>& typed_values(const NamedArray& array, DType wanted, const char* accessor) {
    if (const auto* values = std::get_if<std::vector<T>>(&array.values)) return *values;
    throw FormatError(std::string(accessor) + ": entry '" + array.name + "' has dtype '" +
                      info(array.dtype()).descr + "', expected '" + info(wanted).descr + "' (" +
                      info(wanted).name + ")");
}

} // namespace

const char* dtype_name(DType dtype) {
    return info(dtype).name;
}

const char* npy_descr(DType dtype) {
    return info(dtype).descr;
}

const std::vector<float>& NamedArray::as_float32() const {
    return typed_values<float>(*this, DType::float32, "as_float32");
}

const std::vector<double>& NamedArray::as_float64() const {
    return typed_values<double>(*this, DType::float64, "as_float64");
}

const std::vector<std::int64_t>& NamedArray::as_int64() const {
    return typed_values<std::int64_t>(*this, DType::int64, "as_int64");
}

const std::vector<std::uint8_t>& NamedArray::as_uint8() const {
    return typed_values<std::uint8_t>(*this, DType::uint8, "as_uint8");
}

std::string encode_npy(const NamedArray& array) {
    const std::string context = "encode_npy: entry '" + array.name + "'";
    const std::size_t held =
        std::visit([](const auto& values) { return values.size(); }, array.values);
    std::size_t count = 0;
    if (!element_count(array.shape, count) || count != held) {
        throw ShapeError(context + " has shape " + shape_text(array.shape) + " but " +
                         std::to_string(held) + " values");
    }
    std::string header = std::string("{'descr': '") + npy_descr(array.dtype()) +
                         "', 'fortran_order': False, 'shape': " + shape_text(array.shape) + ", }";
    // Pad with spaces and end with a newline so that the data starts on an aligned offset.
    constexpr std::size_t kPrefixSize = kNpyMagicSize + 4;
    const std::size_t unpadded = kPrefixSize + header.size() + 1;
    const std::size_t padding = (kNpyAlignment - unpadded % kNpyAlignment) % kNpyAlignment;
    header += std::string(padding, ' ') + '\n';
    if (header.size() > 0xffff) {
        throw FormatError(context + " needs an NPY header of " + std::to_string(header.size()) +
                          " bytes, more than version 1.0 allows (65535)");
    }

    std::string out(kNpyMagic, kNpyMagicSize);
    out += '\x01'; // version 1.0
    out += '\x00';
    out += static_cast<char>(header.size() & 0xff);
    out += static_cast<char>(header.size() >> 8);
    out += header;
    std::visit([&](const auto& values) { append_little_endian(out, values); }, array.values);
    return out;
}

NamedArray decode_npy(const std::uint8_t* bytes, std::size_t size, const std::string& name) {
    return decode(bytes, size, name, entry_context("decode_npy", name));
}

std::vector<NamedArray> parse_npz(const std::uint8_t* bytes, std::size_t size,
                                  const std::string& source) {
    const std::string context = "parse_npz: " + source;
    zip_error_t error;
    zip_error_init(&error);
    zip_source_t* buffer = zip_source_buffer_create(bytes, size, 0, &error);
    if (buffer == nullptr) {
        throw FormatError(context + ": cannot read the bytes: " + error_text(error));
    }
    return read_archive(open_archive(buffer, context).get(), context);
}

std::vector<NamedArray> load_npz(const std::string& path) {
    const std::string context = "load_npz: " + path;
    std::FILE* file = std::fopen(path.c_str(), "rb");
    if (file == nullptr) {
        throw FormatError(context + ": cannot open file: " + std::strerror(errno));
    }
    struct stat status {};
    if (fstat(fileno(file), &status) != 0 || !S_ISREG(status.st_mode)) {
        const bool directory = S_ISDIR(status.st_mode);
        std::fclose(file);
        // libzip needs to seek: a directory, pipe or device cannot hold an archive.
        throw FormatError(context + ": cannot read file: " +
                          (directory ? std::strerror(EISDIR) : "not a regular file"));
    }
    zip_error_t error;
    zip_error_init(&error);
    // On success the source owns the file and closes it.
    zip_source_t* source = zip_source_filep_create(file, 0, -1, &error);
    if (source == nullptr) {
        std::fclose(file);
        throw FormatError(context + ": cannot read file: " + error_text(error));
    }
    return read_archive(open_archive(source, context).get(), context);
}

void save_npz(const std::string& path, const std::vector<NamedArray>& arrays) {
    const std::string context = "save_npz: " + path;
    std::set<std::string> names;
    std::vector<std::string> entry_names;
    for (const NamedArray& array : arrays) {
        if (array.name.empty()) {
            throw ValueError(context + ": an array has an empty name");
        }
        if (!names.insert(array.name).second) {
            throw ValueError(entry_context(context, array.name) + " appears twice");
        }
        if (array.name.size() + 4 > 0xffff) {
            throw FormatError(context + ": an array name of " + std::to_string(array.name.size()) +
                              " bytes is longer than ZIP allows");
        }
        entry_names.push_back(array.name + ".npy");
    }
    std::vector<std::string> contents;
    for (const NamedArray& array : arrays) contents.push_back(encode_npy(array));

    const std::string temporary = path + ".tmp";
    try {
        if (arrays.empty()) {
            write_empty_zip(temporary, context);
        } else {
            write_zip(temporary, entry_names, contents, context);
        }
        sync_file(temporary, context);
    } catch (...) {
        std::remove(temporary.c_str());
        throw;
    }
    if (std::rename(temporary.c_str(), path.c_str()) != 0) {
        const std::string reason = std::strerror(errno);
        std::remove(temporary.c_str());
        throw FormatError(context + ": cannot rename " + temporary + " to " + path + ": " + reason);
    }
}

} // namespace tapegrad::io
