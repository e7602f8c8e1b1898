/* pcap_loop — the floor: read every packet of a capture with libpcap's
 * pcap_next_ex and touch its first and last byte, nothing else.  The file
 * gets the same 1 MB stdio buffer as in imapscope (src/net/capture.c), so
 * what imapscope costs beyond this is the cost of dissection. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include <pcap/pcap.h>

int main(int argc, char **argv)
{
	char err[PCAP_ERRBUF_SIZE];
	struct pcap_pkthdr *h;
	const u_char *d;
	uint64_t pkts = 0, bytes = 0, sum = 0;
	pcap_t *p;
	int rc;

	if (argc != 2) {
		fprintf(stderr, "usage: pcap_loop FILE\n");
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
