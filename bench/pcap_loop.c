/* pcap_loop — the floor: read every packet of a capture with libpcap's
 * pcap_next_ex and touch its first and last byte, nothing else.  The file
 * gets the same 1 MB stdio buffer as in imapscope (src/net/capture.c), so
 * what imapscope costs beyond this is the cost of dissection.
 *
 * pcap_loop --mmap FILE walks a classic pcap file (native byte order only)
 * through mmap instead, touching the same bytes: what a reader without
 * read(2)'s copy and libpcap's per-record fread would cost.  Pages already
 * walked are dropped every 8 MB, so peak RSS stays that of a small buffer
 * (a mapped file's pages count in RSS).  A measurement, not a reader: it
 * checks bounds and nothing else. */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <pcap/pcap.h>

#define MMAP_DROP_STEP (8u << 20)

static int mmap_loop(const char *path)
{
	uint64_t pkts = 0, bytes = 0, sum = 0;
	size_t off = 24, dropped = 0;
	const uint8_t *m;
	uint32_t magic;
	struct stat st;
	int fd = open(path, O_RDONLY);

	if (fd < 0 || fstat(fd, &st) != 0 || st.st_size < 24) {
		perror(path);
		return 1;
	}
	m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (m == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	(void)madvise((void *)m, (size_t)st.st_size, MADV_WILLNEED);
	memcpy(&magic, m, 4);
	if (magic != 0xa1b2c3d4 && magic != 0xa1b23c4d) {
		fprintf(stderr, "pcap_loop: --mmap takes classic pcap in native byte order\n");
		return 1;
	}
	while ((size_t)st.st_size - off >= 16) {
		uint32_t caplen;

		memcpy(&caplen, m + off + 8, 4);
		if ((size_t)st.st_size - off - 16 < caplen) {
			fprintf(stderr, "pcap_loop: truncated record\n");
			return 1;
		}
		pkts++;
		bytes += caplen;
		if (caplen > 0)
			sum += (uint64_t)m[off + 16] + m[off + 16 + caplen - 1];
		off += 16 + (size_t)caplen;
		if (off - dropped >= 2 * MMAP_DROP_STEP) {
			(void)madvise((void *)(m + dropped), MMAP_DROP_STEP, MADV_DONTNEED);
			dropped += MMAP_DROP_STEP;
		}
	}
	printf("%" PRIu64 " packets, %" PRIu64 " bytes, checksum %" PRIu64 "\n", pkts, bytes, sum);
	munmap((void *)m, (size_t)st.st_size);
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	char err[PCAP_ERRBUF_SIZE];
	struct pcap_pkthdr *h;
	const u_char *d;
	uint64_t pkts = 0, bytes = 0, sum = 0;
	pcap_t *p;
	int rc;

	if (argc == 3 && strcmp(argv[1], "--mmap") == 0)
		return mmap_loop(argv[2]);
	if (argc != 2) {
		fprintf(stderr, "usage: pcap_loop [--mmap] FILE\n");
		return 2;
	}
	char *iobuf = malloc(1 << 20);
	FILE *fp = fopen(argv[1], "rb");

	if (fp == NULL) {
		perror(argv[1]);
		return 1;
	}
	if (iobuf != NULL)
		setvbuf(fp, iobuf, _IOFBF, 1 << 20);
	p = pcap_fopen_offline(fp, err);
	if (p == NULL) {
		fprintf(stderr, "pcap_loop: %s\n", err);
		return 1;
	}
	while ((rc = pcap_next_ex(p, &h, &d)) == 1) {
		pkts++;
		bytes += h->caplen;
		if (h->caplen > 0)
			sum += (uint64_t)d[0] + d[h->caplen - 1];
	}
	if (rc == PCAP_ERROR)
		fprintf(stderr, "pcap_loop: %s\n", pcap_geterr(p));
	pcap_close(p);
	printf("%" PRIu64 " packets, %" PRIu64 " bytes, checksum %" PRIu64 "\n", pkts, bytes, sum);
	return rc == PCAP_ERROR;
}
