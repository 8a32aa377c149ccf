// libpcap, found through pkg-config (libpcap.pc, Debian: libpcap-dev).
// Only the Capture module imports this.
#include <pcap/pcap.h>
