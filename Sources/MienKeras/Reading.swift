import MienHDF5
@_exported import MienKerasConfig

extension KerasError {
    /// Runs `body`, turning HDF5 and layer errors into a `KerasError` about `file`.
    static func reading<T>(_ file: String, _ body: () throws -> T) throws -> T {
        try wrap(file: file) {
            do {
                return try body()
            } catch let error as HDF5Error {
                // The KerasError names the file; the HDF5 error adds the object.
                throw KerasError(.hdf5, file: file, error.object.map { "\($0): \(error.message)" } ?? error.message)
            }
        }
    }
}
