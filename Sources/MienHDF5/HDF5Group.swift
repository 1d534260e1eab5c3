import MienCHDF5

/// A group inside an open HDF5 file. Holds its file open (strong reference);
/// libhdf5 handles are opened per call and closed before returning.
public struct HDF5Group: HDF5Object {
    public let file: HDF5File
    /// Absolute HDF5 path: "/" or e.g. "/model_weights/inner".
    public let path: String

    init(file: HDF5File, path: String) {
        self.file = file
        self.path = path
    }

    /// Last path component ("" for the root group).
    public var name: String { path.split(separator: "/").last.map(String.init) ?? "" }

    /// Names of the direct children (links), in creation order when the file
    /// tracks and indexes it, else in name order.
    public func childNames() throws -> [String] {
        try HDF5Library.withLock {
            let gid = H5Gopen2(file.id, path, mien_H5P_DEFAULT())
            guard gid >= 0 else { throw file.libraryError(path, "cannot open group") }
            defer { _ = H5Gclose(gid) }

            var info = H5G_info_t()
            guard H5Gget_info(gid, &info) >= 0 else { throw file.libraryError(path, "cannot read group info") }
            // Every link takes bytes in the file; a larger count means a corrupt header.
            guard info.nlinks <= UInt64(file.fileSize) else {
                throw file.error(path, "group claims \(info.nlinks) links, more than the file can hold (corrupt file?)")
            }
            let count = Int(info.nlinks)

            var order = H5_INDEX_NAME
            let gcpl = H5Gget_create_plist(gid)
            if gcpl >= 0 {
                var flags: UInt32 = 0
                if H5Pget_link_creation_order(gcpl, &flags) >= 0,
                   flags & UInt32(H5P_CRT_ORDER_TRACKED) != 0,
                   flags & UInt32(H5P_CRT_ORDER_INDEXED) != 0 {
                    order = H5_INDEX_CRT_ORDER
                }
                _ = H5Pclose(gcpl)
            }
            _ = H5Eclear2(mien_H5E_DEFAULT())

            if order == H5_INDEX_CRT_ORDER, let names = try? linkNames(gid, count, H5_INDEX_CRT_ORDER) {
                return names
            }
            return try linkNames(gid, count, H5_INDEX_NAME)
        }
    }

    private func linkNames(_ gid: hid_t, _ count: Int, _ index: H5_index_t) throws -> [String] {
        var names: [String] = []
        names.reserveCapacity(count)
        for i in 0..<count {
            let length = H5Lget_name_by_idx(gid, ".", index, H5_ITER_INC, hsize_t(i), nil, 0, mien_H5P_DEFAULT())
            guard length >= 0 else { throw file.libraryError(path, "cannot read the name of link #\(i)") }
            var buffer = [CChar](repeating: 0, count: Int(length) + 1)
            guard H5Lget_name_by_idx(gid, ".", index, H5_ITER_INC, hsize_t(i), &buffer, buffer.count, mien_H5P_DEFAULT()) >= 0 else {
                throw file.libraryError(path, "cannot read the name of link #\(i)")
            }
            names.append(String(decoding: buffer.prefix(Int(length)).map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        return names
    }

    /// Whether `name` (a child name or a relative path such as
    /// "inner/c1/kernel:0") names an existing object. Never throws or prints.
    /// A leading "/" makes the path absolute; "" and "." name this group.
    public func contains(_ name: String) -> Bool {
        HDF5Library.withLock { file.objectKind(HDF5Library.join(path, name)) != nil }
    }

    public func isGroup(_ name: String) -> Bool {
        HDF5Library.withLock { file.objectKind(HDF5Library.join(path, name)) == .group }
    }

    public func isDataset(_ name: String) -> Bool {
        HDF5Library.withLock { file.objectKind(HDF5Library.join(path, name)) == .dataset }
    }

    /// The group at `name` (relative path allowed; "/..." is absolute). An empty name or
    /// "." is refused: a name read from a file that should name a child must not open the
    /// group itself.
    public func group(_ name: String) throws -> HDF5Group {
        let abs = HDF5Library.join(path, name)
        guard !name.isEmpty, name != "." else { throw file.error(abs, "an empty group name") }
        return try HDF5Library.withLock {
            switch file.objectKind(abs) {
            case nil: throw file.error(abs, "no such group")
            case .dataset?: throw file.error(abs, "not a group (it is a dataset)")
            case .datatype?, .other?: throw file.error(abs, "not a group")
            case .group?: break
            }
            let gid = H5Gopen2(file.id, abs, mien_H5P_DEFAULT())
            guard gid >= 0 else { throw file.libraryError(abs, "cannot open group") }
            _ = H5Gclose(gid)
            return HDF5Group(file: file, path: abs)
        }
    }

    /// The dataset at `name` (relative path allowed; "/..." is absolute).
    public func dataset(_ name: String) throws -> HDF5Dataset {
        let abs = HDF5Library.join(path, name)
        return try HDF5Library.withLock {
            switch file.objectKind(abs) {
            case nil: throw file.error(abs, "no such dataset")
            case .group?: throw file.error(abs, "not a dataset (it is a group)")
            case .datatype?, .other?: throw file.error(abs, "not a dataset")
            case .dataset?: break
            }
            return try HDF5Dataset(file: file, path: abs)
        }
    }
}
