/*
 * The practical ceiling of any libpcap-based reader: open a capture with
 * pcap_open_offline and hand every packet to a callback that does nothing.
 * Whatever a real analyser does per packet, it cannot go faster than this
 * on the same file and machine.
 *
 *   cc -O2 -o pcap_ceiling Benchmarks/pcap_ceiling.c -lpcap
 *   ./pcap_ceiling capture.pcap
 *
 * Prints one line: packets=N seconds=S pps=P
 */
#include <pcap/pcap.h>
#include <stdio.h>
#include <time.h>

static void empty_cb(u_char *user, const struct pcap_pkthdr *header, const u_char *bytes) {
    (void)user;
    (void)header;
    (void)bytes;
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s CAPTURE\n", argv[0]);
        return 2;
    }
    char errbuf[PCAP_ERRBUF_SIZE];
    double start = now();
    pcap_t *p = pcap_open_offline(argv[1], errbuf);
    if (p == NULL) {
        fprintf(stderr, "%s: %s\n", argv[1], errbuf);
        return 1;
    }
    unsigned long long packets = 0;
    int n;
    /* With a savefile, -1 means "until EOF", but loop in case a libpcap
     * returns after one buffer. 0 is EOF, -1 an error. */
    while ((n = pcap_dispatch(p, -1, empty_cb, NULL)) > 0)
        packets += (unsigned long long)n;
    if (n == -1) {
        fprintf(stderr, "%s: %s\n", argv[1], pcap_geterr(p));
        pcap_close(p);
        return 1;
    }
    pcap_close(p);
    double seconds = now() - start;
    printf("packets=%llu seconds=%.3f pps=%.0f\n", packets, seconds, seconds > 0 ? (double)packets / seconds : 0.0);
    return 0;
}
