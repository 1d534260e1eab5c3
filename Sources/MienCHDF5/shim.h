// libhdf5 (serial) for Swift. Debian: libhdf5-dev; pkg-config "hdf5" adds
// -I/usr/include/hdf5/serial.
//
// Many libhdf5 "constants" are macros that expand to H5open() plus a global
// (`H5T_NATIVE_FLOAT` -> `H5T_NATIVE_FLOAT_g`), or to casts. Swift can't import
// those macros, and Swift 6 rejects the mutable `_g` globals, so each one we
// need is re-exported as a tiny function. Version-dependent names are wrapped
// here too, so the Swift code compiles against 1.10 and 1.12+.
#ifndef MIEN_CHDF5_SHIM_H
#define MIEN_CHDF5_SHIM_H

#include <hdf5.h>

static inline hid_t mien_H5P_DEFAULT(void) { return H5P_DEFAULT; }
static inline hid_t mien_H5S_ALL(void) { return H5S_ALL; }
static inline hsize_t mien_H5S_UNLIMITED(void) { return H5S_UNLIMITED; }
static inline hid_t mien_H5E_DEFAULT(void) { return H5E_DEFAULT; }
static inline unsigned mien_H5F_ACC_RDONLY(void) { return H5F_ACC_RDONLY; }
static inline unsigned mien_H5F_ACC_EXCL(void) { return H5F_ACC_EXCL; }
static inline hid_t mien_H5P_FILE_ACCESS(void) { return H5P_FILE_ACCESS; }
static inline hid_t mien_H5P_LINK_CREATE(void) { return H5P_LINK_CREATE; }
static inline size_t mien_H5T_VARIABLE(void) { return H5T_VARIABLE; }

static inline hid_t mien_H5T_NATIVE_FLOAT(void) { return H5T_NATIVE_FLOAT; }
static inline hid_t mien_H5T_NATIVE_DOUBLE(void) { return H5T_NATIVE_DOUBLE; }
static inline hid_t mien_H5T_NATIVE_INT64(void) { return H5T_NATIVE_INT64; }
static inline hid_t mien_H5T_C_S1(void) { return H5T_C_S1; }

// File (on-disk) types for writing: fixed little-endian, as h5py writes them.
static inline hid_t mien_H5T_IEEE_F32LE(void) { return H5T_IEEE_F32LE; }
static inline hid_t mien_H5T_IEEE_F64LE(void) { return H5T_IEEE_F64LE; }
static inline hid_t mien_H5T_STD_I64LE(void) { return H5T_STD_I64LE; }

// Frees the strings libhdf5 malloc'ed while reading variable-length data.
// H5Dvlen_reclaim is deprecated (and may be compiled out) from 1.12 on.
static inline herr_t mien_vlen_reclaim(hid_t type_id, hid_t space_id, void *buf) {
#if H5_VERSION_GE(1, 12, 0)
    return H5Treclaim(type_id, space_id, H5P_DEFAULT, buf);
#else
    return H5Dvlen_reclaim(type_id, space_id, H5P_DEFAULT, buf);
#endif
}

#endif
