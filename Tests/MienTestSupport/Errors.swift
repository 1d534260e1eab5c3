import XCTest

/// The error of type `E` that `body` throws; a test failure (and nil) if it returns or
/// throws something else. One helper for every module's typed errors.
public func caught<E: Error, T>(_ type: E.Type, file: StaticString = #filePath, line: UInt = #line,
                                _ body: () throws -> T) -> E? {
    do {
        let value = try body()
        XCTFail("expected a \(E.self), got \(value)", file: file, line: line)
    } catch let error as E {
        return error
    } catch {
        XCTFail("expected a \(E.self), got \(error)", file: file, line: line)
    }
    return nil
}

/// An error that names the file it is about and says what is wrong ("PATH: message").
public protocol PathMessageError: Error, CustomStringConvertible {
    var path: String { get }
    var message: String { get }
}

/// Asserts the error names `path` ("PATH: message") and its message contains each fragment.
public func assertError<E: PathMessageError>(_ error: E?, path: String, contains fragments: [String],
                                             file: StaticString = #filePath, line: UInt = #line) {
    guard let error else { return }
    XCTAssertEqual(error.path, path, file: file, line: line)
    XCTAssertEqual(error.description, "\(path): \(error.message)", file: file, line: line)
    for fragment in fragments {
        XCTAssertTrue(error.message.contains(fragment), "'\(error.description)' lacks '\(fragment)'",
                      file: file, line: line)
    }
}
