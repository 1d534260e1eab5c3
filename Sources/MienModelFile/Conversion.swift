// Element decoding: the bytes of one tensor, little-endian, into Floats.
//
// Loads are unaligned on purpose: the format does not promise alignment (a hostile or
// hand-made header need not be padded to 8 bytes), and unaligned loads are free on the
// CPUs we target.

extension SafeTensorsDType {
    /// Decodes `count` elements at `source` into `out`. `source` must hold
    /// `count * byteSize` readable bytes (checked by the caller against the mapping).
    /// Returns false for a dtype that has no Float reading (C64).
    func decode(_ source: UnsafeRawPointer, count: Int, into out: UnsafeMutablePointer<Float>) -> Bool {
        switch self {
        case .F32:
            // One memcpy; the bytes already are host Floats on a little-endian machine.
            out.withMemoryRebound(to: UInt8.self, capacity: count * 4) {
                UnsafeMutableRawPointer($0).copyMemory(from: source, byteCount: count * 4)
            }
            #if _endian(big)
            for i in 0..<count { out[i] = Float(bitPattern: UInt32(littleEndian: out[i].bitPattern)) }
            #endif
        case .F64:
            for i in 0..<count {
                out[i] = Float(Double(bitPattern: load(source, i, UInt64.self)))   // rounds to nearest even
            }
        case .F16:
            for i in 0..<count { out[i] = halfToFloat(load(source, i, UInt16.self)) }
        case .BF16:
            // bfloat16 is the top half of a float32: exact, NaN payloads kept.
            for i in 0..<count { out[i] = Float(bitPattern: UInt32(load(source, i, UInt16.self)) << 16) }
        case .I64: decodeIntegers(source, count, Int64.self, out)
        case .I32: decodeIntegers(source, count, Int32.self, out)
        case .I16: decodeIntegers(source, count, Int16.self, out)
        case .I8: decodeIntegers(source, count, Int8.self, out)
        case .U64: decodeIntegers(source, count, UInt64.self, out)
        case .U32: decodeIntegers(source, count, UInt32.self, out)
        case .U16: decodeIntegers(source, count, UInt16.self, out)
        case .U8: decodeIntegers(source, count, UInt8.self, out)
        case .BOOL:
            for i in 0..<count { out[i] = source.load(fromByteOffset: i, as: UInt8.self) != 0 ? 1 : 0 }
        case .F8_E5M2: decodeBytes(source, count, Minifloat.e5m2, out)
        case .F8_E4M3: decodeBytes(source, count, Minifloat.e4m3fn, out)
        case .F8_E5M2FNUZ: decodeBytes(source, count, Minifloat.e5m2fnuz, out)
        case .F8_E4M3FNUZ: decodeBytes(source, count, Minifloat.e4m3fnuz, out)
        case .F8_E8M0: decodeBytes(source, count, Minifloat.e8m0, out)
        case .C64:
            return false
        }
        return true
    }
}

@inline(__always)
private func load<T: FixedWidthInteger>(_ source: UnsafeRawPointer, _ index: Int, _: T.Type) -> T {
    T(littleEndian: source.loadUnaligned(fromByteOffset: index &* MemoryLayout<T>.size, as: T.self))
}

private func decodeIntegers<T: FixedWidthInteger>(
    _ source: UnsafeRawPointer, _ count: Int, _ type: T.Type, _ out: UnsafeMutablePointer<Float>
) {
    // Float(_:) rounds to nearest even, like numpy's astype(float32), so large
    // 64-bit values round once (not via Double, which could round twice).
    for i in 0..<count { out[i] = Float(load(source, i, T.self)) }
}

private func decodeBytes(
    _ source: UnsafeRawPointer, _ count: Int, _ table: [Float], _ out: UnsafeMutablePointer<Float>
) {
    table.withUnsafeBufferPointer { table in
        for i in 0..<count { out[i] = table[Int(source.load(fromByteOffset: i, as: UInt8.self))] }
    }
}

/// IEEE half precision to Float, exactly (every half is a float), keeping NaN payloads.
/// Written out by hand because `Float16` is not available on every platform Swift runs on.
@inline(__always)
func halfToFloat(_ h: UInt16) -> Float {
    let sign = UInt32(h & 0x8000) << 16
    let exponent = UInt32(h >> 10) & 0x1F
    let mantissa = UInt32(h & 0x3FF)
    if exponent == 0x1F {                       // infinity or NaN
        return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13))
    }
    if exponent != 0 {                          // normal: rebias 15 -> 127
        return Float(bitPattern: sign | ((exponent + 112) << 23) | (mantissa << 13))
    }
    let magnitude = Float(mantissa) * 0x1p-24   // zero or subnormal: mantissa x 2^-24
    return sign != 0 ? -magnitude : magnitude
}

/// 256-entry tables for the 8-bit float formats, built once from the format's parameters.
enum Minifloat {
    enum Special { case ieee, finiteNaNAllOnes, nanIs0x80 }

    static let e5m2 = table(exponentBits: 5, mantissaBits: 2, bias: 15, special: .ieee)
    static let e4m3fn = table(exponentBits: 4, mantissaBits: 3, bias: 7, special: .finiteNaNAllOnes)
    static let e5m2fnuz = table(exponentBits: 5, mantissaBits: 2, bias: 16, special: .nanIs0x80)
    static let e4m3fnuz = table(exponentBits: 4, mantissaBits: 3, bias: 8, special: .nanIs0x80)
    /// E8M0: an unsigned exponent only, 2^(b - 127); 0xFF is NaN.
    static let e8m0: [Float] = (0..<256).map {
        $0 == 0xFF ? .nan : Float(sign: .plus, exponent: $0 - 127, significand: 1)
    }

    static func table(exponentBits e: Int, mantissaBits m: Int, bias: Int, special: Special) -> [Float] {
        (0..<256).map { (byte: Int) -> Float in
            let negative = byte & 0x80 != 0
            let exponent = (byte >> m) & ((1 << e) - 1)
            let mantissa = byte & ((1 << m) - 1)
            let maxExponent = (1 << e) - 1
            switch special {
            case .ieee where exponent == maxExponent:
                return mantissa == 0 ? (negative ? -.infinity : .infinity) : .nan
            case .finiteNaNAllOnes where exponent == maxExponent && mantissa == (1 << m) - 1:
                return .nan
            case .nanIs0x80 where byte == 0x80:
                return .nan
            default:
                break
            }
            // value = significand x 2^(exponent - bias - m); subnormals use exponent 1 without
            // the hidden bit. Both factors are exact in Float, so the product is too.
            let significand = exponent == 0 ? mantissa : (1 << m) | mantissa
            let magnitude = Float(sign: .plus, exponent: max(exponent, 1) - bias - m,
                                  significand: Float(significand))
            return negative ? -magnitude : magnitude
        }
    }
}
