#include "tapegrad/io/npz.hpp"

#include "io/file_bytes.hpp"
#include "tapegrad/errors.hpp"

#include <zlib.h>

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>
#include <new>
#include <set>
#include <utility>

namespace tapegrad::io {
namespace {

// ---- Shared helpers ------------------------------------------------------------------------

constexpr char kNpyMagic[] = "\x93NUMPY";
constexpr std::size_t kNpyMagicSize = sizeof kNpyMagic - 1;
constexpr std::size_t kNpyAlignment = 64; // NumPy aligns the data of every .npy to 64 bytes
constexpr std::size_t kFloatBytes = 4;

// ZIP record signatures and fixed sizes (PKWARE APPNOTE, sections 4.3.7, 4.3.12, 4.3.16).
constexpr std::uint32_t kLocalHeaderSignature = 0x04034b50;
constexpr std::uint32_t kCentralHeaderSignature = 0x02014b50;
constexpr std::uint32_t kEndRecordSignature = 0x06054b50;
constexpr std::size_t kLocalHeaderSize = 30;
constexpr std::size_t kCentralHeaderSize = 46;
constexpr std::size_t kEndRecordSize = 22;
constexpr std::uint16_t kMethodStored = 0;
constexpr std::uint16_t kMethodDeflated = 8;
constexpr std::uint16_t kFlagEncrypted = 1 << 0;
constexpr std::uint16_t kFlagUtf8Name = 1 << 11;
// Without zip64, sizes and offsets are 32-bit and 0xffffffff marks a zip64 value.
constexpr std::uint64_t kZip64Marker = 0xffffffff;
constexpr std::size_t kMaxEntries = 0xffff;
// No deflate stream expands by more than this (a 258-byte match per 2 bits of input), so a
// larger claimed size is corrupt and must not drive an allocation.
constexpr std::uint64_t kMaxDeflateRatio = 1032;

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

void append_u16(std::string& out, std::uint16_t value) {
    out += static_cast<char>(value & 0xff);
    out += static_cast<char>(value >> 8);
}

void append_u32(std::string& out, std::uint32_t value) {
    append_u16(out, static_cast<std::uint16_t>(value & 0xffff));
    append_u16(out, static_cast<std::uint16_t>(value >> 16));
}

std::uint16_t read_u16(const std::uint8_t* at) {
    return static_cast<std::uint16_t>(at[0] | at[1] << 8);
}

std::uint32_t read_u32(const std::uint8_t* at) {
    return static_cast<std::uint32_t>(read_u16(at)) | static_cast<std::uint32_t>(read_u16(at + 2))
                                                          << 16;
}

std::string hex32(std::uint32_t value) {
    char text[16];
    std::snprintf(text, sizeof text, "0x%08x", static_cast<unsigned>(value));
    return text;
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

// ---- NPY encoding and decoding -------------------------------------------------------------

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
    if (header.descr != "<f4") {
        throw FormatError(context + " has dtype '" + header.descr + "', expected '<f4' (float32)");
    }
    if (header.fortran_order) {
        throw FormatError(context + " is stored in Fortran order; only C order is supported");
    }
    std::size_t count = 0;
    std::size_t data_size = 0;
    if (!element_count(header.shape, count) || multiply_overflows(count, kFloatBytes, data_size)) {
        throw FormatError(context + " has shape " + shape_text(header.shape) +
                          ", too large to address");
    }
    const std::uint8_t* data = bytes + prefix_size + header_size;
    const std::size_t available = size - prefix_size - header_size;
    if (available != data_size) {
        throw FormatError(context + " with shape " + shape_text(header.shape) + " needs " +
                          std::to_string(data_size) + " bytes of float32 data, has " +
                          std::to_string(available) +
                          (available < data_size ? " (truncated)" : " (trailing bytes)"));
    }

    NamedArray array{name, header.shape, std::vector<float>(count)};
    for (std::size_t i = 0; i < count; ++i) {
        const std::uint32_t bits = read_u32(data + kFloatBytes * i);
        std::memcpy(&array.values[i], &bits, kFloatBytes);
    }
    return array;
}

std::string entry_context(const std::string& prefix, const std::string& name) {
    return prefix + ": entry '" + name + "'";
}

// ---- ZIP reading ---------------------------------------------------------------------------

struct CentralEntry {
    std::string name;
    std::uint16_t flags;
    std::uint16_t method;
    std::uint32_t crc;
    std::uint32_t compressed_size;
    std::uint32_t size;
    std::uint32_t local_offset;
};

// Inflates a raw deflate stream (no zlib or gzip wrapper, as in ZIP) that must produce
// exactly `size` bytes.
std::vector<std::uint8_t> inflate_entry(const std::uint8_t* data, std::uint32_t compressed_size,
                                        std::uint32_t size, const std::string& context) {
    if (size / kMaxDeflateRatio > compressed_size) {
        throw FormatError(context + " claims " + std::to_string(size) + " bytes from " +
                          std::to_string(compressed_size) +
                          " deflated bytes, more than deflate can produce");
    }
    // One spare byte keeps next_out valid for an empty entry and turns a stream longer than
    // declared into a size mismatch below.
    std::vector<std::uint8_t> output(std::size_t{size} + 1);
    z_stream stream{};
    if (inflateInit2(&stream, -MAX_WBITS) != Z_OK) {
        throw std::bad_alloc();
    }
    // zlib's next_in is not const-qualified in older versions but is never written through.
    stream.next_in = const_cast<Bytef*>(data);
    stream.avail_in = compressed_size;
    stream.next_out = output.data();
    stream.avail_out = size + 1;
    const int status = inflate(&stream, Z_FINISH);
    const std::string message = stream.msg ? stream.msg : "";
    const std::size_t produced = stream.total_out;
    const std::size_t unused_input = stream.avail_in;
    inflateEnd(&stream);

    if (status == Z_MEM_ERROR) {
        throw std::bad_alloc();
    }
    if (status == Z_DATA_ERROR) {
        throw FormatError(context + " has a corrupt deflate stream: " + message);
    }
    if (status != Z_STREAM_END) {
        throw FormatError(context + ": deflate stream does not end within " +
                          std::to_string(compressed_size) + " compressed bytes and " +
                          std::to_string(size) + " output bytes (truncated or mis-sized)");
    }
    if (produced != size || unused_input != 0) {
        throw FormatError(context + ": deflate stream yields " + std::to_string(produced) +
                          " bytes from " + std::to_string(compressed_size - unused_input) +
                          " compressed bytes, central directory says " + std::to_string(size) +
                          " from " + std::to_string(compressed_size));
    }
    output.resize(size);
    return output;
}

// Finds the end-of-central-directory record. It is the last record of the file, followed
// only by its own comment, which is why the search runs backwards.
std::size_t find_end_record(const std::uint8_t* bytes, std::size_t size,
                            const std::string& context) {
    if (size >= kEndRecordSize) {
        const std::size_t lowest = size - kEndRecordSize >= 0xffff
                                       ? size - kEndRecordSize - 0xffff
                                       : 0; // the comment is at most 65535 bytes
        for (std::size_t at = size - kEndRecordSize + 1; at-- > lowest;) {
            if (read_u32(bytes + at) == kEndRecordSignature &&
                at + kEndRecordSize + read_u16(bytes + at + 20) == size) {
                return at;
            }
        }
    }
    throw FormatError(context + ": not a ZIP archive (no end-of-central-directory record in " +
                      std::to_string(size) + " bytes; truncated?)");
}

struct CentralDirectory {
    std::vector<CentralEntry> entries;
    std::size_t offset; // entry data must lie before this
};

CentralDirectory read_central_directory(const std::uint8_t* bytes, std::size_t size,
                                        const std::string& context) {
    const std::size_t end_record = find_end_record(bytes, size, context);
    const std::uint8_t* record = bytes + end_record;
    const std::size_t entry_count = read_u16(record + 10);
    const std::size_t directory_size = read_u32(record + 12);
    const std::size_t directory_offset = read_u32(record + 16);
    if (read_u16(record + 4) != 0 || read_u16(record + 6) != 0 ||
        read_u16(record + 8) != entry_count) {
        throw FormatError(context + ": multi-disk ZIP archives are not supported");
    }
    if (directory_size == kZip64Marker || directory_offset == kZip64Marker) {
        throw FormatError(context + ": zip64 archives are not supported");
    }
    if (directory_offset > end_record || directory_size != end_record - directory_offset) {
        throw FormatError(context + ": central directory of " + std::to_string(directory_size) +
                          " bytes at offset " + std::to_string(directory_offset) +
                          " does not end where the end record starts (offset " +
                          std::to_string(end_record) + ")");
    }

    CentralDirectory directory{{}, directory_offset};
    std::set<std::string> names;
    std::size_t at = directory_offset;
    for (std::size_t index = 0; index < entry_count; ++index) {
        const std::string where = context + ": central directory entry " + std::to_string(index);
        if (end_record - at < kCentralHeaderSize ||
            read_u32(bytes + at) != kCentralHeaderSignature) {
            throw FormatError(where + " is missing or corrupt");
        }
        const std::uint8_t* header = bytes + at;
        const std::size_t record_size = kCentralHeaderSize + read_u16(header + 28) +
                                        read_u16(header + 30) + read_u16(header + 32);
        if (end_record - at < record_size) {
            throw FormatError(where + " runs past the end of the central directory");
        }
        CentralEntry entry{std::string(reinterpret_cast<const char*>(header + kCentralHeaderSize),
                                       read_u16(header + 28)),
                           read_u16(header + 8),
                           read_u16(header + 10),
                           read_u32(header + 16),
                           read_u32(header + 20),
                           read_u32(header + 24),
                           read_u32(header + 42)};
        if (!names.insert(entry.name).second) {
            throw FormatError(context + ": entry '" + entry.name + "' appears twice");
        }
        directory.entries.push_back(std::move(entry));
        at += record_size;
    }
    if (at != end_record) {
        throw FormatError(context + ": central directory has " + std::to_string(end_record - at) +
                          " unexplained bytes after its " + std::to_string(entry_count) +
                          " entries");
    }
    return directory;
}

// Returns the uncompressed, CRC-checked bytes of one entry. Entry data must lie before the
// central directory, which bounds every read.
std::vector<std::uint8_t> entry_bytes(const std::uint8_t* bytes, std::size_t directory_offset,
                                      const CentralEntry& entry, const std::string& where) {
    if (entry.flags & kFlagEncrypted) {
        throw FormatError(where + " is encrypted");
    }
    if (entry.compressed_size == kZip64Marker || entry.size == kZip64Marker ||
        entry.local_offset == kZip64Marker) {
        throw FormatError(where + " uses zip64, which is not supported");
    }
    const std::size_t offset = entry.local_offset;
    if (offset > directory_offset || directory_offset - offset < kLocalHeaderSize ||
        read_u32(bytes + offset) != kLocalHeaderSignature) {
        throw FormatError(where + ": no local file header at offset " + std::to_string(offset));
    }
    const std::uint8_t* local = bytes + offset;
    const std::size_t name_size = read_u16(local + 26);
    const std::size_t data_offset = offset + kLocalHeaderSize + name_size + read_u16(local + 28);
    if (data_offset > directory_offset || directory_offset - data_offset < entry.compressed_size) {
        throw FormatError(where + ": data of " + std::to_string(entry.compressed_size) +
                          " bytes at offset " + std::to_string(data_offset) +
                          " overlaps the central directory at offset " +
                          std::to_string(directory_offset) + " (truncated or corrupt)");
    }
    if (std::string(reinterpret_cast<const char*>(local + kLocalHeaderSize), name_size) !=
        entry.name) {
        throw FormatError(where + ": local file header has a different name");
    }

    const std::uint8_t* data = bytes + data_offset;
    std::vector<std::uint8_t> contents;
    if (entry.method == kMethodStored) {
        if (entry.compressed_size != entry.size) {
            throw FormatError(where + " is stored with " + std::to_string(entry.compressed_size) +
                              " bytes but claims " + std::to_string(entry.size));
        }
        contents.assign(data, data + entry.size);
    } else if (entry.method == kMethodDeflated) {
        contents = inflate_entry(data, entry.compressed_size, entry.size, where);
    } else {
        throw FormatError(where + " uses compression method " + std::to_string(entry.method) +
                          ", expected 0 (stored) or 8 (deflate)");
    }
    const std::uint32_t crc =
        static_cast<std::uint32_t>(crc32(0, contents.data(), static_cast<uInt>(contents.size())));
    if (crc != entry.crc) {
        throw FormatError(where + " fails its CRC-32 check: archive says " + hex32(entry.crc) +
                          ", data has " + hex32(crc));
    }
    return contents;
}

std::vector<NamedArray> parse_archive(const std::uint8_t* bytes, std::size_t size,
                                      const std::string& context) {
    const CentralDirectory directory = read_central_directory(bytes, size, context);
    std::vector<NamedArray> arrays;
    for (const CentralEntry& entry : directory.entries) {
        const std::string where = entry_context(context, entry.name);
        const std::string suffix = ".npy";
        if (entry.name.size() < suffix.size() ||
            entry.name.compare(entry.name.size() - suffix.size(), suffix.size(), suffix) != 0) {
            throw FormatError(where + " is not a .npy file");
        }
        const std::string name = entry.name.substr(0, entry.name.size() - suffix.size());
        const std::vector<std::uint8_t> contents =
            entry_bytes(bytes, directory.offset, entry, where);
        arrays.push_back(
            decode(contents.data(), contents.size(), name, entry_context(context, name)));
    }
    return arrays;
}

// ---- ZIP writing ---------------------------------------------------------------------------

struct WrittenEntry {
    std::string name; // with ".npy"
    std::uint32_t crc;
    std::uint32_t size;
    std::uint32_t local_offset;
};

// Fields shared by the local and central headers, from "version needed" to "extra length".
void append_entry_fields(std::string& out, const WrittenEntry& entry) {
    // A fixed timestamp (1980-01-01 00:00, the DOS epoch) keeps saves byte-for-byte
    // reproducible.
    constexpr std::uint16_t kDosTime = 0;
    constexpr std::uint16_t kDosDate = (0 << 9) | (1 << 5) | 1;
    const bool ascii = std::all_of(entry.name.begin(), entry.name.end(),
                                   [](char c) { return static_cast<unsigned char>(c) < 0x80; });
    append_u16(out, 20); // version 2.0 is enough to extract stored entries
    append_u16(out, ascii ? 0 : kFlagUtf8Name);
    append_u16(out, kMethodStored);
    append_u16(out, kDosTime);
    append_u16(out, kDosDate);
    append_u32(out, entry.crc);
    append_u32(out, entry.size); // compressed size equals size when stored
    append_u32(out, entry.size);
    append_u16(out, static_cast<std::uint16_t>(entry.name.size()));
    append_u16(out, 0); // no extra field
}

class FileWriter {
public:
    FileWriter(const std::string& path, const std::string& context)
        : path_(path), context_(context), file_(std::fopen(path.c_str(), "wb"), &std::fclose) {
        if (!file_) {
            fail("cannot create");
        }
    }

    void write(const std::string& bytes) {
        // Offsets and sizes must stay below the zip64 marker.
        if (written_ + bytes.size() >= kZip64Marker) {
            throw FormatError(context_ + ": archive would exceed 4 GiB, which needs zip64 (not "
                                         "supported)");
        }
        if (std::fwrite(bytes.data(), 1, bytes.size(), file_.get()) != bytes.size()) {
            fail("cannot write");
        }
        written_ += bytes.size();
    }

    std::uint64_t written() const { return written_; }

    // Flushes to disk, so the rename that follows never exposes a file whose data is still
    // only in the page cache.
    void close() {
        if (std::fflush(file_.get()) != 0 || fsync(fileno(file_.get())) != 0) {
            fail("cannot flush");
        }
        if (std::fclose(file_.release()) != 0) {
            fail("cannot close");
        }
    }

private:
    [[noreturn]] void fail(const std::string& action) const {
        throw FormatError(context_ + ": " + action + " " + path_ + ": " + std::strerror(errno));
    }

    std::string path_;
    std::string context_;
    std::unique_ptr<std::FILE, int (*)(std::FILE*)> file_;
    std::uint64_t written_ = 0;
};

void write_archive(FileWriter& writer, const std::vector<NamedArray>& arrays,
                   const std::string& context) {
    std::vector<WrittenEntry> entries;
    for (const NamedArray& array : arrays) {
        const std::string npy = encode_npy(array);
        if (npy.size() >= kZip64Marker) {
            throw FormatError(entry_context(context, array.name) +
                              " exceeds 4 GiB, which needs zip64 (not supported)");
        }
        const WrittenEntry entry{
            array.name + ".npy",
            static_cast<std::uint32_t>(crc32(0, reinterpret_cast<const Bytef*>(npy.data()),
                                             static_cast<uInt>(npy.size()))),
            static_cast<std::uint32_t>(npy.size()), static_cast<std::uint32_t>(writer.written())};
        std::string header;
        append_u32(header, kLocalHeaderSignature);
        append_entry_fields(header, entry);
        writer.write(header + entry.name);
        writer.write(npy);
        entries.push_back(entry);
    }

    const std::uint64_t directory_offset = writer.written();
    std::string directory;
    for (const WrittenEntry& entry : entries) {
        append_u32(directory, kCentralHeaderSignature);
        append_u16(directory, 20); // made by: MS-DOS attributes, version 2.0
        append_entry_fields(directory, entry);
        append_u16(directory, 0); // comment length
        append_u16(directory, 0); // disk number
        append_u16(directory, 0); // internal attributes
        append_u32(directory, 0); // external attributes
        append_u32(directory, entry.local_offset);
        directory += entry.name;
    }
    writer.write(directory);

    std::string end;
    append_u32(end, kEndRecordSignature);
    append_u16(end, 0); // this disk
    append_u16(end, 0); // disk with the central directory
    append_u16(end, static_cast<std::uint16_t>(entries.size()));
    append_u16(end, static_cast<std::uint16_t>(entries.size()));
    append_u32(end, static_cast<std::uint32_t>(directory.size()));
    append_u32(end, static_cast<std::uint32_t>(directory_offset));
    append_u16(end, 0); // comment length
    writer.write(end);
}

} // namespace

std::string encode_npy(const NamedArray& array) {
    const std::string context = "encode_npy: entry '" + array.name + "'";
    std::size_t count = 0;
    if (!element_count(array.shape, count) || count != array.values.size()) {
        throw ShapeError(context + " has shape " + shape_text(array.shape) + " but " +
                         std::to_string(array.values.size()) + " values");
    }
    std::string header =
        "{'descr': '<f4', 'fortran_order': False, 'shape': " + shape_text(array.shape) + ", }";
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
    append_u16(out, static_cast<std::uint16_t>(header.size()));
    out += header;
    out.reserve(out.size() + kFloatBytes * count);
    for (const float value : array.values) {
        std::uint32_t bits;
        std::memcpy(&bits, &value, kFloatBytes);
        append_u32(out, bits);
    }
    return out;
}

NamedArray decode_npy(const std::uint8_t* bytes, std::size_t size, const std::string& name) {
    return decode(bytes, size, name, entry_context("decode_npy", name));
}

std::vector<NamedArray> parse_npz(const std::uint8_t* bytes, std::size_t size,
                                  const std::string& source) {
    return parse_archive(bytes, size, "parse_npz: " + source);
}

std::vector<NamedArray> load_npz(const std::string& path) {
    const std::string context = "load_npz: " + path;
    const std::vector<std::uint8_t> contents = read_file(path, context);
    return parse_archive(contents.data(), contents.size(), context);
}

void save_npz(const std::string& path, const std::vector<NamedArray>& arrays) {
    const std::string context = "save_npz: " + path;
    std::set<std::string> names;
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
    }
    if (arrays.size() > kMaxEntries) {
        throw FormatError(context + ": " + std::to_string(arrays.size()) +
                          " arrays are more than ZIP without zip64 allows (65535)");
    }

    const std::string temporary = path + ".tmp";
    try {
        FileWriter writer(temporary, context);
        write_archive(writer, arrays, context);
        writer.close();
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
