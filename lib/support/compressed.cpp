#include "support/compressed.h"

#include <algorithm>
#include <lzma.h>

namespace kp::support {

Compression compression_of(std::span<const uint8_t> bytes)
{
	auto starts = [&](std::initializer_list<uint8_t> magic) {
		return bytes.size() >= magic.size() &&
		       std::equal(magic.begin(), magic.end(), bytes.begin());
	};
	if (starts({0xfd, '7', 'z', 'X', 'Z', 0x00}))
		return Compression::xz;
	if (starts({0x1f, 0x8b}))
		return Compression::gzip;
	if (starts({0x28, 0xb5, 0x2f, 0xfd}))
		return Compression::zstd;
	return Compression::none;
}

namespace {

const char *lzma_reason(lzma_ret r)
{
	switch (r) {
	case LZMA_FORMAT_ERROR: return "not an xz stream";
	case LZMA_OPTIONS_ERROR: return "unsupported xz options";
	case LZMA_DATA_ERROR: return "corrupt xz data";
	case LZMA_BUF_ERROR: return "truncated xz data";
	case LZMA_MEM_ERROR:
	case LZMA_MEMLIMIT_ERROR: return "out of memory";
	default: return "liblzma error";
	}
}

} // namespace

Expected<std::vector<uint8_t>> xz_decompress(const std::string &name,
                                             std::span<const uint8_t> bytes)
{
	lzma_stream s = LZMA_STREAM_INIT;
	// LZMA_CONCATENATED: xz may write several streams; the whole file is one module.
	lzma_ret r = lzma_stream_decoder(&s, UINT64_MAX, LZMA_CONCATENATED);
	if (r != LZMA_OK)
		return Error(ErrorKind::internal,
		             name + ": cannot start the xz decoder: " + lzma_reason(r));
	std::vector<uint8_t> out(std::max<size_t>(bytes.size() * 4, 4096));
	s.next_in = bytes.data();
	s.avail_in = bytes.size();
	s.next_out = out.data();
	s.avail_out = out.size();
	lzma_action action = LZMA_RUN;
	for (;;) {
		if (s.avail_in == 0)
			action = LZMA_FINISH;
		r = lzma_code(&s, action);
		if (r == LZMA_STREAM_END)
			break;
		if (r != LZMA_OK) {
			lzma_end(&s);
			return Error(ErrorKind::format,
			             name + ": does not decompress as xz: " + lzma_reason(r));
		}
		if (s.avail_out == 0) {
			size_t done = out.size();
			out.resize(done * 2);
			s.next_out = out.data() + done;
			s.avail_out = out.size() - done;
		}
	}
	out.resize(s.total_out);
	lzma_end(&s);
	return out;
}

} // namespace kp::support
