import CLibCrypto

/// A streaming message digest over libcrypto's EVP interface (SHA-256, MD5, SHA-1).
///
/// A class so the EVP context is freed exactly once; not `Sendable`: one task feeds it.
final class Digest {
    enum Algorithm {
        case sha256, md5, sha1

        var size: Int {
            switch self {
            case .sha256: 32
            case .md5: 16
            case .sha1: 20
            }
        }
    }

    let algorithm: Algorithm
    private let context: OpaquePointer

    init(_ algorithm: Algorithm) {
        self.algorithm = algorithm
        guard let context = EVP_MD_CTX_new() else { fatalError("EVP_MD_CTX_new failed: out of memory") }
        self.context = context
        let md: OpaquePointer? = switch algorithm {
        case .sha256: EVP_sha256()
        case .md5: EVP_md5()
        case .sha1: EVP_sha1()
        }
        guard EVP_DigestInit_ex(context, md, nil) == 1 else { fatalError("EVP_DigestInit_ex failed") }
    }

    deinit { EVP_MD_CTX_free(context) }

    @inline(__always)
    func update(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        EVP_DigestUpdate(context, base, bytes.count)
    }

    func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { update($0) }
    }

    /// The digest; the object must not be updated afterwards.
    func finish() -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 64)
        var length: UInt32 = 0
        EVP_DigestFinal_ex(context, &out, &length)
        return Array(out[0..<Int(length)])
    }

    static func hash(_ algorithm: Algorithm, _ bytes: [UInt8]) -> [UInt8] {
        let digest = Digest(algorithm)
        digest.update(bytes)
        return digest.finish()
    }
}

/// HMAC-SHA256 through libcrypto's one-shot `HMAC`.
func hmacSHA256(key: [UInt8], _ message: [UInt8]) -> [UInt8] {
    var out = [UInt8](repeating: 0, count: 32)
    var length: UInt32 = 32
    key.withUnsafeBytes { keyBytes in
        message.withUnsafeBytes { messageBytes in
            _ = HMAC(
                EVP_sha256(), keyBytes.baseAddress, Int32(keyBytes.count),
                messageBytes.baseAddress?.assumingMemoryBound(to: UInt8.self), messageBytes.count,
                &out, &length)
        }
    }
    return out
}

func hmacSHA256(key: [UInt8], _ message: String) -> [UInt8] {
    hmacSHA256(key: key, Array(message.utf8))
}

/// Compares two byte strings in time that depends only on their lengths (signatures, digests).
func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
    guard a.count == b.count else { return false }
    var difference: UInt8 = 0
    for index in a.indices { difference |= a[index] ^ b[index] }
    return difference == 0
}
