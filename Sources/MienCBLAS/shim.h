// OpenBLAS's CBLAS interface (Debian: libopenblas-dev, found via pkg-config "openblas").
#include <cblas.h>
