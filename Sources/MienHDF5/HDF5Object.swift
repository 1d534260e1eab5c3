import MienCHDF5

/// Anything in an HDF5 file that can carry attributes (groups and datasets).
/// The attribute API is shared through the extension below.
public protocol HDF5Object: Sendable {
    var file: HDF5File { get }
    /// Absolute HDF5 path inside the file.
    var path: String { get }
}

extension HDF5Object {
    /// Attribute names, in creation order when tracked and indexed, else name order.
    public func attributeNames() throws -> [String] {
        try HDF5Library.withLock {
            let obj = H5Oopen(file.id, path, mien_H5P_DEFAULT())
            guard obj >= 0 else { throw file.libraryError(path, "cannot open object") }
            defer { _ = H5Oclose(obj) }
            if attributeCreationOrderIndexed(obj), let names = collectAttributeNames(obj, H5_INDEX_CRT_ORDER) {
                return names
            }
            guard let names = collectAttributeNames(obj, H5_INDEX_NAME) else {
                throw file.libraryError(path, "cannot list attributes")
            }
            return names
        }
    }

    /// Whether the attribute exists. Never throws or prints.
    public func hasAttribute(_ name: String) -> Bool {
        guard !name.isEmpty, !name.utf8.contains(0) else { return false }
        return HDF5Library.withLock {
            let exists = H5Aexists_by_name(file.id, path, name, mien_H5P_DEFAULT())
            if exists < 0 { _ = H5Eclear2(mien_H5E_DEFAULT()) }
            return exists > 0
        }
    }

    /// The attribute's value; throws if it is missing or of an unsupported type.
    public func attribute(_ name: String) throws -> HDF5Attribute {
        try HDF5Library.withLock {
            guard hasAttribute(name) else { throw file.error(path, "no such attribute '\(name)'") }
            let aid = H5Aopen_by_name(file.id, path, name, mien_H5P_DEFAULT(), mien_H5P_DEFAULT())
            guard aid >= 0 else { throw file.libraryError(path, "attribute '\(name)': cannot open") }
            defer { _ = H5Aclose(aid) }
            return try HDF5Attribute.read(aid, file: file, object: path, name: name)
        }
    }

    /// A string attribute: nil if absent; a scalar string (variable- or
    /// fixed-length) or a 1-element string array. Throws for other types.
    public func stringAttribute(_ name: String) throws -> String? {
        guard hasAttribute(name) else { return nil }
        let value = try attribute(name)
        guard let string = value.stringValue else {
            throw file.error(path, "attribute '\(name)' is \(value.kindDescription), not a string")
        }
        return string
    }

    /// A string-array attribute, nil if absent. Handles Keras's split
    /// attributes: when `name` is absent but `name0`, `name1`, ... exist
    /// (Keras splits lists too large for one attribute header), their
    /// contents are concatenated in order, stopping at the first gap, as
    /// Keras's own loader does. An empty numeric array (h5py writes `[]` as
    /// empty float64) reads as [].
    public func stringArrayAttribute(_ name: String) throws -> [String]? {
        func strings(_ attributeName: String) throws -> [String] {
            let value = try attribute(attributeName)
            guard let strings = value.stringsValue else {
                throw file.error(path, "attribute '\(attributeName)' is \(value.kindDescription), not a string array")
            }
            return strings
        }
        if hasAttribute(name) { return try strings(name) }
        var parts: [String] = []
        var index = 0
        while hasAttribute("\(name)\(index)") {
            parts += try strings("\(name)\(index)")
            index += 1
        }
        return index > 0 ? parts : nil
    }
}

// MARK: - Helpers (lock must be held)

/// Whether `obj`'s attributes are tracked *and* indexed by creation order
/// (iterating by creation order needs the index).
private func attributeCreationOrderIndexed(_ obj: hid_t) -> Bool {
    let plist: hid_t
    switch H5Iget_type(obj) {
    case H5I_GROUP: plist = H5Gget_create_plist(obj)
    case H5I_DATASET: plist = H5Dget_create_plist(obj)
    default: return false
    }
    guard plist >= 0 else { _ = H5Eclear2(mien_H5E_DEFAULT()); return false }
    defer { _ = H5Pclose(plist) }
    var flags: UInt32 = 0
    guard H5Pget_attr_creation_order(plist, &flags) >= 0 else { _ = H5Eclear2(mien_H5E_DEFAULT()); return false }
    return flags & UInt32(H5P_CRT_ORDER_TRACKED) != 0 && flags & UInt32(H5P_CRT_ORDER_INDEXED) != 0
}

/// Attribute names in the given index order, or nil if iteration failed.
private func collectAttributeNames(_ obj: hid_t, _ index: H5_index_t) -> [String]? {
    final class Names { var list: [String] = [] }
    let names = Names()
    let status = withExtendedLifetime(names) {
        H5Aiterate2(obj, index, H5_ITER_INC, nil, { _, name, _, data in
            guard let name, let data else { return -1 }
            Unmanaged<Names>.fromOpaque(data).takeUnretainedValue().list.append(String(cString: name))
            return 0
        }, Unmanaged.passUnretained(names).toOpaque())
    }
    guard status >= 0 else { return nil }
    return names.list
}
