// libjpeg-turbo's TurboJPEG API for Swift. Debian: libturbojpeg0-dev
// (pkg-config "libturbojpeg"). Everything Images uses imports directly:
// tjInitDecompress, tjDecompressHeader3, tjDecompress2, tjGetErrorStr2,
// tjGetErrorCode, tjDestroy, the TJPF_/TJCS_/TJERR_ enums and TJFLAG_ macros.
#ifndef MIEN_CJPEG_SHIM_H
#define MIEN_CJPEG_SHIM_H

#include <stddef.h>
#include <stdio.h>   // turbojpeg.h of libjpeg-turbo 3.x uses FILE
#include <turbojpeg.h>

#endif
