// libmaxminddb, found through pkg-config (libmaxminddb.pc, Debian: libmaxminddb-dev).
// Only the GeoIP module imports this.
#include <maxminddb.h>
