import HDF5
@_exported import KerasConfig

extension KerasError {
    /// Runs `body`, turning HDF5 and layer errors into a `KerasError` about `file`.
    static func reading<T>(_ file: String, _ body: () throws -> T) throws -> T {
        try wrap(file: file) {
            do {
                return try body()
            } catch let error as HDF5Error {
                // The HDF5 module's errors already name the file and the object.
                throw KerasError(.hdf5, file: file, error.description)
            }
        }
    }
}
