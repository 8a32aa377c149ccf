/*
 * A load generator for the live benchmark (Benchmarks/live-gen.sh): loads the
 * Ethernet frames of a capture into memory once, then sends them in a loop
 * through an AF_PACKET socket bound to one interface, bypassing the qdisc
 * (PACKET_QDISC_BYPASS). tcpreplay tops out near 270 k packets/s into a veth
 * on the benchmark VM; this does not go through a qdisc, a pcap reader or
 * one syscall per packet.
 *
 * Two ways to send, --mode:
 *   ring  (the default, the faster on a veth) a TPACKET_V2 PACKET_TX_RING
 *         (mmap): frames are copied into the ring and handed over with one
 *         send(fd, NULL, 0, MSG_DONTWAIT) per batch. With PACKET_VNET_HDR, so
 *         that the kernel copies each frame whole into its skb instead of
 *         attaching the ring's pages, which a veth would copy again.
 *   mmsg  sendmmsg() with --batch frames per call.
 * --threads N runs N such senders, each with its own socket.
 *
 *   cc -O2 -Wall -Wextra -Werror -pthread -o afpacket_gen Benchmarks/afpacket_gen.c -lpcap
 *   afpacket_gen [--mode ring|mmsg] [--rate PPS] [--duration S | --count N]
 *                [--batch N] [--threads N] [--max-packets N] INTERFACE CAPTURE
 *
 * --rate 0 (the default) sends as fast as the socket takes frames; otherwise
 * batches are paced against CLOCK_MONOTONIC. Without --count or --duration it
 * stops after 10 seconds; with both, at whichever comes first; if no frame
 * leaves for 5 seconds it gives up. SIGINT/SIGTERM stop it early, with the
 * summary. Needs CAP_NET_RAW. It prints one line at the end:
 *
 *   mode=ring threads=1 packets=N seconds=S pps=P errors=E skipped=K
 *
 * seconds: from the first frame to the last handed over (the TX ring's frames
 * still in flight then are waited for, up to a second, but not timed).
 * packets: frames the interface's driver took (for a veth this includes
 * frames the peer then drops; see its rx_dropped). errors: failed send calls
 * (ENOBUFS, EAGAIN) and frames the kernel refused; counted, not fatal.
 * skipped: capture frames not loaded (longer than the interface's MTU
 * allows, or shorter than an Ethernet header).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <linux/if_packet.h>
#include <linux/virtio_net.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <pcap/pcap.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define MAX_BATCH 1024
#define MAX_THREADS 64
#define STALL_SECONDS 5.0

enum mode { MODE_RING, MODE_MMSG };

struct options {
    enum mode mode;
    uint64_t rate;          /* packets per second, 0 = unpaced */
    double duration;        /* seconds, 0 = unset */
    uint64_t count;         /* packets, 0 = unset */
    unsigned batch;
    unsigned threads;
    uint64_t max_packets;
    const char *interface;
    const char *capture;
};

/* The capture's frames, back to back in one buffer. */
struct frames {
    unsigned char *data;
    size_t data_len, data_cap;
    size_t *offset;         /* n + 1 entries: frame i is data[offset[i] ..< offset[i + 1]] */
    size_t n, cap;
    uint64_t skipped, truncated;
    size_t max_len;
};

struct totals {
    uint64_t sent, errors;
};

static _Atomic int stop_requested = 0; /* lock-free: set by the handler, read by every sender */

static void on_stop(int sig) {
    (void)sig;
    stop_requested = 1;
}

static void usage(FILE *f) {
    fprintf(f,
            "usage: afpacket_gen [--mode ring|mmsg] [--rate PPS] [--duration S | --count N]\n"
            "                    [--batch N] [--threads N] [--max-packets N] INTERFACE CAPTURE\n"
            "  --mode         ring (PACKET_TX_RING, default) or mmsg (sendmmsg)\n"
            "  --rate         packets per second, 0 = as fast as possible (default 0)\n"
            "  --duration     seconds to send (default 10 unless --count is given)\n"
            "  --count        packets to send\n"
            "  --batch        frames per kick or sendmmsg call, 1...%d (default 256)\n"
            "  --threads      senders, each with its own socket, 1...%d (default 1);\n"
            "                 --rate and --count are split between them\n"
            "  --max-packets  capture frames to load (default 1000000)\n",
            MAX_BATCH, MAX_THREADS);
}

static double now_seconds(void) {
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0) {
        perror("clock_gettime(CLOCK_MONOTONIC)");
        exit(1);
    }
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Sleep until the CLOCK_MONOTONIC time `when` (seconds), or until a stop signal. */
static void sleep_until(double when) {
    struct timespec ts;
    double whole = (double)(time_t)when;
    ts.tv_sec = (time_t)whole;
    ts.tv_nsec = (long)((when - whole) * 1e9);
    if (ts.tv_nsec < 0) ts.tv_nsec = 0;
    if (ts.tv_nsec > 999999999L) ts.tv_nsec = 999999999L;
    int rc = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
    if (rc != 0 && rc != EINTR) {
        fprintf(stderr, "clock_nanosleep: %s\n", strerror(rc));
        exit(1);
    }
}

static bool parse_u64(const char *s, uint64_t *out) {
    if (s == NULL || *s == '\0' || *s == '-') return false;
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0') return false;
    *out = (uint64_t)v;
    return true;
}

static bool parse_seconds(const char *s, double *out) {
    if (s == NULL || *s == '\0') return false;
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (errno != 0 || end == s || *end != '\0' || !(v > 0) || v > 86400.0 * 365) return false;
    *out = v;
    return true;
}

static void parse_options(int argc, char **argv, struct options *o) {
    *o = (struct options){.mode = MODE_RING, .batch = 256, .threads = 1, .max_packets = 1000000};
    int i = 1;
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            exit(0);
        }
        if (strncmp(a, "--", 2) != 0) break;
        if (i + 1 >= argc) {
            fprintf(stderr, "afpacket_gen: %s needs a value\n", a);
            exit(2);
        }
        const char *v = argv[++i];
        uint64_t n = 0;
        if (strcmp(a, "--mode") == 0) {
            if (strcmp(v, "ring") == 0) o->mode = MODE_RING;
            else if (strcmp(v, "mmsg") == 0) o->mode = MODE_MMSG;
            else {
                fprintf(stderr, "afpacket_gen: --mode must be ring or mmsg, not '%s'\n", v);
                exit(2);
            }
        } else if (strcmp(a, "--rate") == 0) {
            if (!parse_u64(v, &o->rate) || o->rate > 100000000ULL) {
                fprintf(stderr, "afpacket_gen: --rate must be an integer within 0...100000000, not '%s'\n", v);
                exit(2);
            }
        } else if (strcmp(a, "--duration") == 0) {
            if (!parse_seconds(v, &o->duration)) {
                fprintf(stderr, "afpacket_gen: --duration must be a positive number of seconds, not '%s'\n", v);
                exit(2);
            }
        } else if (strcmp(a, "--count") == 0) {
            if (!parse_u64(v, &o->count) || o->count == 0) {
                fprintf(stderr, "afpacket_gen: --count must be a positive integer, not '%s'\n", v);
                exit(2);
            }
        } else if (strcmp(a, "--batch") == 0) {
            if (!parse_u64(v, &n) || n < 1 || n > MAX_BATCH) {
                fprintf(stderr, "afpacket_gen: --batch must be within 1...%d, not '%s'\n", MAX_BATCH, v);
                exit(2);
            }
            o->batch = (unsigned)n;
        } else if (strcmp(a, "--threads") == 0) {
            if (!parse_u64(v, &n) || n < 1 || n > MAX_THREADS) {
                fprintf(stderr, "afpacket_gen: --threads must be within 1...%d, not '%s'\n", MAX_THREADS, v);
                exit(2);
            }
            o->threads = (unsigned)n;
        } else if (strcmp(a, "--max-packets") == 0) {
            if (!parse_u64(v, &o->max_packets) || o->max_packets == 0 || o->max_packets > 100000000ULL) {
                fprintf(stderr, "afpacket_gen: --max-packets must be within 1...100000000, not '%s'\n", v);
                exit(2);
            }
        } else {
            fprintf(stderr, "afpacket_gen: unknown option %s\n", a);
            usage(stderr);
            exit(2);
        }
    }
    if (argc - i != 2) {
        usage(stderr);
        exit(2);
    }
    o->interface = argv[i];
    o->capture = argv[i + 1];
    if (strlen(o->interface) >= IFNAMSIZ) {
        fprintf(stderr, "afpacket_gen: interface name '%s' is too long\n", o->interface);
        exit(2);
    }
    if (o->count == 0 && o->duration == 0) o->duration = 10;
    if (o->count != 0 && o->count < o->threads) {
        fprintf(stderr, "afpacket_gen: --count must be at least --threads\n");
        exit(2);
    }
    if (o->rate != 0 && o->rate < o->threads) {
        fprintf(stderr, "afpacket_gen: --rate must be 0 or at least --threads\n");
        exit(2);
    }
}

static void *xrealloc(void *p, size_t count, size_t size) {
    if (size != 0 && count > SIZE_MAX / size) {
        fprintf(stderr, "afpacket_gen: capture too large for memory\n");
        exit(1);
    }
    void *q = realloc(p, count * size);
    if (q == NULL) {
        fprintf(stderr, "afpacket_gen: out of memory loading the capture\n");
        exit(1);
    }
    return q;
}

/* Load up to max_packets Ethernet frames of at most max_frame bytes. */
static void load_capture(const char *path, uint64_t max_packets, size_t max_frame, struct frames *f) {
    char errbuf[PCAP_ERRBUF_SIZE];
    errbuf[0] = '\0';
    pcap_t *p = pcap_open_offline(path, errbuf);
    if (p == NULL) {
        fprintf(stderr, "afpacket_gen: %s: %s\n", path, errbuf);
        exit(1);
    }
    int dlt = pcap_datalink(p);
    if (dlt != DLT_EN10MB) {
        const char *name = pcap_datalink_val_to_name(dlt);
        fprintf(stderr, "afpacket_gen: %s: link type %s (%d) is not Ethernet (EN10MB); only Ethernet frames can be sent\n",
                path, name ? name : "unknown", dlt);
        pcap_close(p);
        exit(1);
    }
    *f = (struct frames){0};
    f->cap = 1024;
    f->offset = xrealloc(NULL, f->cap + 1, sizeof *f->offset);
    f->offset[0] = 0;
    f->data_cap = 1 << 20;
    f->data = xrealloc(NULL, f->data_cap, 1);

    struct pcap_pkthdr *h = NULL;
    const u_char *bytes = NULL;
    int rc = 1;
    while (f->n < max_packets && (rc = pcap_next_ex(p, &h, &bytes)) == 1) {
        size_t len = h->caplen;
        if (len < sizeof(struct ether_header) || len > max_frame) {
            f->skipped++;
            continue;
        }
        if (h->caplen < h->len) f->truncated++;
        if (f->n == f->cap) {
            f->cap *= 2;
            f->offset = xrealloc(f->offset, f->cap + 1, sizeof *f->offset);
        }
        if (len > f->data_cap - f->data_len) {
            while (len > f->data_cap - f->data_len) {
                if (f->data_cap > SIZE_MAX / 2) {
                    fprintf(stderr, "afpacket_gen: capture too large for memory\n");
                    exit(1);
                }
                f->data_cap *= 2;
            }
            f->data = xrealloc(f->data, f->data_cap, 1);
        }
        memcpy(f->data + f->data_len, bytes, len);
        f->data_len += len;
        f->n++;
        f->offset[f->n] = f->data_len;
        if (len > f->max_len) f->max_len = len;
    }
    if (f->n < max_packets && rc == PCAP_ERROR) {
        fprintf(stderr, "afpacket_gen: %s: %s\n", path, pcap_geterr(p));
        pcap_close(p);
        exit(1);
    }
    pcap_close(p);
    if (f->n == 0) {
        fprintf(stderr, "afpacket_gen: %s: no frames to send (%llu skipped: shorter than 14 bytes or longer than %zu)\n",
                path, (unsigned long long)f->skipped, max_frame);
        exit(1);
    }
}

/* An AF_PACKET raw socket bound to the interface, bypassing the qdisc. */
static int open_socket(const char *interface, size_t *max_frame) {
    int fd = socket(AF_PACKET, SOCK_RAW, 0); /* protocol 0: sends only, receives nothing */
    if (fd < 0) {
        perror("afpacket_gen: socket(AF_PACKET, SOCK_RAW) (needs CAP_NET_RAW)");
        exit(1);
    }
    unsigned ifindex = if_nametoindex(interface);
    if (ifindex == 0) {
        fprintf(stderr, "afpacket_gen: interface %s: %s\n", interface, strerror(errno));
        exit(1);
    }
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    memcpy(ifr.ifr_name, interface, strlen(interface)); /* length checked in parse_options */
    if (ioctl(fd, SIOCGIFMTU, &ifr) != 0) {
        fprintf(stderr, "afpacket_gen: SIOCGIFMTU %s: %s\n", interface, strerror(errno));
        exit(1);
    }
    if (ifr.ifr_mtu <= 0) {
        fprintf(stderr, "afpacket_gen: interface %s reports MTU %d\n", interface, ifr.ifr_mtu);
        exit(1);
    }
    *max_frame = (size_t)ifr.ifr_mtu + sizeof(struct ether_header);
    int one = 1;
    if (setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof one) != 0) {
        perror("afpacket_gen: setsockopt(PACKET_QDISC_BYPASS)");
        exit(1);
    }
    /* A blocked sendmmsg gives up after a second (EAGAIN, counted) rather than
     * hanging: the run stays bounded whatever the interface does. */
    struct timeval timeout = {.tv_sec = 1, .tv_usec = 0};
    if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout) != 0) {
        perror("afpacket_gen: setsockopt(SO_SNDTIMEO)");
        exit(1);
    }
    struct sockaddr_ll sll;
    memset(&sll, 0, sizeof sll);
    sll.sll_family = AF_PACKET;
    sll.sll_protocol = 0;
    sll.sll_ifindex = (int)ifindex;
    if (bind(fd, (struct sockaddr *)&sll, sizeof sll) != 0) {
        fprintf(stderr, "afpacket_gen: bind to %s: %s\n", interface, strerror(errno));
        exit(1);
    }
    return fd;
}

static bool transient(int err) {
    return err == ENOBUFS || err == EAGAIN || err == EWOULDBLOCK || err == EINTR;
}

/* The pacing and stop rules shared by both modes. */
struct run {
    const struct options *o;
    double start, deadline, last_progress;
    double end;             /* when the last frame was handed over (before the TX ring's drain) */
    uint64_t attempted;     /* frames handed to the kernel, sent or not: the pacing clock */
};

static bool should_stop(const struct run *r, double now) {
    if (stop_requested) return true;
    if (r->o->count != 0 && r->attempted >= r->o->count) return true;
    if (r->o->duration != 0 && now >= r->deadline) return true;
    if (now - r->last_progress > STALL_SECONDS) {
        fprintf(stderr, "afpacket_gen: no frame left for %.0f s; giving up\n", STALL_SECONDS);
        return true;
    }
    return false;
}

/* How many frames to hand over next: the batch, trimmed to --count, after
 * sleeping until the paced schedule allows them; 0 when the time is up. */
static unsigned next_batch(struct run *r, unsigned batch) {
    uint64_t n = batch;
    if (r->o->count != 0 && r->o->count - r->attempted < n) n = r->o->count - r->attempted;
    if (r->o->rate != 0) {
        if (r->o->duration != 0) { /* rate x duration frames in all, not a batch more */
            uint64_t total = (uint64_t)((double)r->o->rate * r->o->duration);
            if (total <= r->attempted) {
                sleep_until(r->deadline);
                return 0;
            }
            if (total - r->attempted < n) n = total - r->attempted;
        }
        double due = r->start + (double)r->attempted / (double)r->o->rate;
        if (due > now_seconds()) sleep_until(due);
    }
    return (unsigned)n;
}

/* Frames per batch: with --rate, about a millisecond's worth, so that a batch
 * is not a burst. */
static unsigned batch_size(const struct options *o) {
    if (o->rate == 0) return o->batch;
    uint64_t per_ms = o->rate / 1000;
    if (per_ms < 1) per_ms = 1;
    return per_ms < o->batch ? (unsigned)per_ms : o->batch;
}

static void run_mmsg(int fd, const struct frames *f, size_t next, struct run *r, struct totals *t) {
    struct mmsghdr msgs[MAX_BATCH];
    struct iovec iov[MAX_BATCH];
    unsigned batch = batch_size(r->o);
    while (!should_stop(r, now_seconds())) {
        unsigned n = next_batch(r, batch);
        if (n == 0 || stop_requested) break;
        for (unsigned i = 0; i < n; i++) {
            size_t k = (next + i) % f->n;
            iov[i].iov_base = f->data + f->offset[k];
            iov[i].iov_len = f->offset[k + 1] - f->offset[k];
            memset(&msgs[i], 0, sizeof msgs[i]);
            msgs[i].msg_hdr.msg_iov = &iov[i];
            msgs[i].msg_hdr.msg_iovlen = 1;
        }
        unsigned done = 0; /* frames sent or given up on */
        while (done < n && !stop_requested) {
            int rc = sendmmsg(fd, msgs + done, n - done, 0);
            if (rc > 0) {
                done += (unsigned)rc;
                t->sent += (uint64_t)rc;
                r->last_progress = now_seconds();
            } else if (rc == 0) {
                t->errors += n - done; /* nothing taken: count the rest and go on */
                done = n;
            } else if (errno == EINTR) {
                continue; /* a stop signal, or spurious: the loop condition decides */
            } else if (transient(errno)) {
                t->errors++;
                done++; /* drop the frame the kernel refused */
            } else {
                fprintf(stderr, "afpacket_gen: sendmmsg on %s: %s\n", r->o->interface, strerror(errno));
                exit(1);
            }
        }
        r->attempted += done;
        next = (next + done) % f->n;
    }
    r->end = now_seconds();
}

/* The TPACKET_V2 TX ring. */
struct ring {
    unsigned char *map;
    size_t map_len;
    unsigned frame_size, frame_nr;
    unsigned char *in_flight; /* 1 while a frame of ours is in the slot and not yet reclaimed */
};

static struct tpacket2_hdr *ring_frame(struct ring *ring, unsigned i) {
    return (struct tpacket2_hdr *)(void *)(ring->map + (size_t)i * ring->frame_size);
}

static uint32_t frame_status(struct tpacket2_hdr *h) {
    return __atomic_load_n(&h->tp_status, __ATOMIC_ACQUIRE);
}

static void set_frame_status(struct tpacket2_hdr *h, uint32_t status) {
    __atomic_store_n(&h->tp_status, status, __ATOMIC_RELEASE);
}

static void setup_ring(int fd, size_t max_len, struct ring *ring) {
    int version = TPACKET_V2;
    if (setsockopt(fd, SOL_PACKET, PACKET_VERSION, &version, sizeof version) != 0) {
        perror("afpacket_gen: setsockopt(PACKET_VERSION, TPACKET_V2)");
        exit(1);
    }
    /* Each frame starts with a virtio_net_hdr whose hdr_len covers the whole
     * frame: the kernel then copies the frame into the skb's linear part.
     * Without it the payload is attached as page fragments of the ring, which
     * a veth must copy again (skb_copy_ubufs, a page per frame). */
    int one = 1;
    if (setsockopt(fd, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof one) != 0) {
        perror("afpacket_gen: setsockopt(PACKET_VNET_HDR)");
        exit(1);
    }
    size_t data_off = TPACKET_ALIGN(sizeof(struct tpacket2_hdr));
    size_t need = data_off + sizeof(struct virtio_net_hdr) + max_len;
    unsigned frame_size = 2048;
    while (frame_size < need) frame_size *= 2;
    unsigned block_size = 1u << 16;
    if (frame_size > block_size) block_size = frame_size;
    unsigned frames_per_block = block_size / frame_size;
    unsigned block_nr = (8u << 20) / block_size; /* an 8 MiB ring */
    if (block_nr == 0) block_nr = 1;
    struct tpacket_req req = {
        .tp_block_size = block_size,
        .tp_block_nr = block_nr,
        .tp_frame_size = frame_size,
        .tp_frame_nr = block_nr * frames_per_block,
    };
    if (setsockopt(fd, SOL_PACKET, PACKET_TX_RING, &req, sizeof req) != 0) {
        perror("afpacket_gen: setsockopt(PACKET_TX_RING)");
        exit(1);
    }
    ring->map_len = (size_t)block_size * block_nr;
    void *map = mmap(NULL, ring->map_len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED) {
        perror("afpacket_gen: mmap(PACKET_TX_RING)");
        exit(1);
    }
    ring->map = map;
    ring->frame_size = frame_size;
    ring->frame_nr = req.tp_frame_nr;
    ring->in_flight = calloc(ring->frame_nr, 1);
    if (ring->in_flight == NULL) {
        fprintf(stderr, "afpacket_gen: out of memory\n");
        exit(1);
    }
}

/* If slot i is free, account for what it held and return true. */
static bool reclaim(struct ring *ring, unsigned i, struct totals *t) {
    struct tpacket2_hdr *h = ring_frame(ring, i);
    uint32_t status = frame_status(h);
    if (status == TP_STATUS_AVAILABLE) {
        if (ring->in_flight[i]) {
            t->sent++;
            ring->in_flight[i] = 0;
        }
        return true;
    }
    if (status & TP_STATUS_WRONG_FORMAT) {
        t->errors++;
        ring->in_flight[i] = 0;
        set_frame_status(h, TP_STATUS_AVAILABLE);
        return true;
    }
    return false; /* TP_STATUS_SEND_REQUEST or TP_STATUS_SENDING */
}

static void kick(int fd, struct run *r, struct totals *t) {
    if (send(fd, NULL, 0, MSG_DONTWAIT) < 0) {
        if (transient(errno) || errno == EINVAL) {
            /* EINVAL: a frame marked TP_STATUS_WRONG_FORMAT; reclaim() counts it */
            if (errno != EINTR && errno != EINVAL) t->errors++;
        } else {
            fprintf(stderr, "afpacket_gen: send (TX ring kick) on %s: %s\n", r->o->interface, strerror(errno));
            exit(1);
        }
    }
}

/* Wait (up to 10 ms) for a sent frame to come back. */
static void wait_slot(int fd, struct run *r) {
    struct pollfd pfd = {.fd = fd, .events = POLLOUT};
    int rc = poll(&pfd, 1, 10);
    if (rc < 0 && errno != EINTR) {
        fprintf(stderr, "afpacket_gen: poll on %s: %s\n", r->o->interface, strerror(errno));
        exit(1);
    }
}

static void run_ring(int fd, const struct frames *f, size_t next, struct run *r, struct totals *t) {
    struct ring ring;
    setup_ring(fd, f->max_len, &ring);
    size_t data_off = TPACKET_ALIGN(sizeof(struct tpacket2_hdr));
    unsigned head = 0;
    unsigned batch = batch_size(r->o);
    if (batch > ring.frame_nr / 2) batch = ring.frame_nr / 2;
    while (!should_stop(r, now_seconds())) {
        unsigned n = next_batch(r, batch);
        if (n == 0 || stop_requested) break;
        unsigned filled = 0;
        while (filled < n) {
            if (!reclaim(&ring, head, t)) {
                if (filled > 0) break; /* send what we have; the slot may be free next time */
                kick(fd, r, t);
                wait_slot(fd, r);
                if (stop_requested || should_stop(r, now_seconds())) break;
                continue;
            }
            struct tpacket2_hdr *h = ring_frame(&ring, head);
            size_t len = f->offset[next + 1] - f->offset[next];
            struct virtio_net_hdr vnet = {.gso_type = VIRTIO_NET_HDR_GSO_NONE, .hdr_len = (uint16_t)len};
            unsigned char *data = (unsigned char *)h + data_off;
            memcpy(data, &vnet, sizeof vnet);
            memcpy(data + sizeof vnet, f->data + f->offset[next], len);
            h->tp_len = (uint32_t)(sizeof vnet + len);
            set_frame_status(h, TP_STATUS_SEND_REQUEST);
            ring.in_flight[head] = 1;
            head = (head + 1) % ring.frame_nr;
            next = (next + 1) % f->n;
            filled++;
        }
        if (filled == 0) continue;
        r->last_progress = now_seconds(); /* a slot came back: the kernel is sending */
        r->attempted += filled;
        kick(fd, r, t);
    }
    /* Drain: let the kernel finish what is in the ring (at most a second), then
     * count it. The run's time ends before the drain: completions can lag
     * (freed skbs may wait on the next softirq), the sending does not. */
    r->end = now_seconds();
    double until = r->end + 1.0;
    for (;;) {
        bool pending = false;
        for (unsigned i = 0; i < ring.frame_nr; i++)
            if (!reclaim(&ring, i, t)) pending = true;
        if (!pending || now_seconds() >= until) break;
        kick(fd, r, t);
        wait_slot(fd, r);
    }
    for (unsigned i = 0; i < ring.frame_nr; i++)
        if (ring.in_flight[i]) t->errors++; /* never left */
    if (munmap(ring.map, ring.map_len) != 0) perror("afpacket_gen: munmap");
    free(ring.in_flight);
}

/* One sender: its own socket, its share of --rate and --count, and its own
 * starting point in the capture. */
struct worker {
    struct options o;
    const struct frames *f;
    size_t first;
    int fd;
    double start;
    struct totals t;
    double end;
    pthread_t thread;
};

static void *worker_main(void *arg) {
    struct worker *w = arg;
    struct run r = {.o = &w->o, .start = w->start, .deadline = w->start + w->o.duration, .last_progress = w->start};
    if (w->o.mode == MODE_RING) run_ring(w->fd, w->f, w->first, &r, &w->t);
    else run_mmsg(w->fd, w->f, w->first, &r, &w->t);
    w->end = r.end;
    return NULL;
}

int main(int argc, char **argv) {
    struct options o;
    parse_options(argc, argv, &o);

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop; /* no SA_RESTART: a blocked send returns EINTR */
    if (sigemptyset(&sa.sa_mask) != 0 || sigaction(SIGINT, &sa, NULL) != 0 || sigaction(SIGTERM, &sa, NULL) != 0) {
        perror("afpacket_gen: sigaction");
        return 1;
    }

    static struct worker workers[MAX_THREADS];
    size_t max_frame = 0;
    for (unsigned i = 0; i < o.threads; i++) workers[i].fd = open_socket(o.interface, &max_frame);
    struct frames f;
    load_capture(o.capture, o.max_packets, max_frame, &f);
    if (f.truncated != 0)
        fprintf(stderr, "afpacket_gen: note: %llu frames were truncated in the capture; sending the captured bytes\n",
                (unsigned long long)f.truncated);
    if (o.mode == MODE_RING && f.max_len + sizeof(struct virtio_net_hdr) > UINT16_MAX) {
        fprintf(stderr, "afpacket_gen: --mode ring sends frames of at most %zu bytes; this capture has one of %zu (use --mode mmsg)\n",
                (size_t)UINT16_MAX - sizeof(struct virtio_net_hdr), f.max_len);
        return 1;
    }

    double start = now_seconds();
    for (unsigned i = 0; i < o.threads; i++) {
        struct worker *w = &workers[i];
        w->o = o;
        w->o.rate = o.rate / o.threads + (i < o.rate % o.threads ? 1 : 0);
        w->o.count = o.count / o.threads + (i < o.count % o.threads ? 1 : 0);
        w->f = &f;
        w->first = (size_t)((uint64_t)f.n * i / o.threads);
        w->start = start;
        int rc = pthread_create(&w->thread, NULL, worker_main, w);
        if (rc != 0) {
            fprintf(stderr, "afpacket_gen: pthread_create: %s\n", strerror(rc));
            return 1;
        }
    }
    struct totals t = {0};
    double end = start;
    for (unsigned i = 0; i < o.threads; i++) {
        int rc = pthread_join(workers[i].thread, NULL);
        if (rc != 0) {
            fprintf(stderr, "afpacket_gen: pthread_join: %s\n", strerror(rc));
            return 1;
        }
        t.sent += workers[i].t.sent;
        t.errors += workers[i].t.errors;
        if (workers[i].end > end) end = workers[i].end;
        if (close(workers[i].fd) != 0) perror("afpacket_gen: close");
    }
    double seconds = end - start;

    printf("mode=%s threads=%u packets=%llu seconds=%.3f pps=%.0f errors=%llu skipped=%llu\n",
           o.mode == MODE_RING ? "ring" : "mmsg", o.threads, (unsigned long long)t.sent, seconds,
           seconds > 0 ? (double)t.sent / seconds : 0.0, (unsigned long long)t.errors, (unsigned long long)f.skipped);
    free(f.data);
    free(f.offset);
    return 0;
}
