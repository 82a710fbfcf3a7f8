/// A growable block of trivially copyable elements in manually managed memory: the hot loops
/// read it through a raw pointer, with no array uniqueness or bounds checks per access.
/// Not thread-safe by itself; every index guards its buffers with its lock.
final class RowBuffer<Element: BitwiseCopyable> {
    private(set) var pointer: UnsafeMutablePointer<Element>
    private(set) var count = 0
    private(set) var capacity: Int

    init(capacity: Int = 64) {
        self.capacity = max(1, capacity)
        pointer = UnsafeMutablePointer<Element>.allocate(capacity: self.capacity)
    }

    deinit { pointer.deallocate() }

    var byteCount: Int { capacity * MemoryLayout<Element>.stride }

    /// Makes room for `newCount` elements, doubling to amortize.
    func reserve(_ newCount: Int) {
        guard newCount > capacity else { return }
        var grown = capacity
        while grown < newCount { grown *= 2 }
        let fresh = UnsafeMutablePointer<Element>.allocate(capacity: grown)
        fresh.update(from: pointer, count: count)
        pointer.deallocate()
        pointer = fresh
        capacity = grown
    }

    /// Appends `elements` copies of `value`.
    func append(repeating value: Element, count elements: Int) {
        reserve(count + elements)
        (pointer + count).initialize(repeating: value, count: elements)
        count += elements
    }

    func append(contentsOf source: UnsafeBufferPointer<Element>) {
        reserve(count + source.count)
        if let base = source.baseAddress { (pointer + count).update(from: base, count: source.count) }
        count += source.count
    }

    func append(contentsOf elements: [Element]) {
        elements.withUnsafeBufferPointer { append(contentsOf: $0) }
    }

    /// Drops the last `elements` elements.
    func removeLast(_ elements: Int) {
        count -= min(elements, count)
    }

    func removeAll() { count = 0 }

    /// Declares the first `newCount` elements initialized (after a bulk copy into `pointer`).
    func setCount(_ newCount: Int) {
        precondition(newCount <= capacity, "count beyond capacity")
        count = newCount
    }

    subscript(index: Int) -> Element {
        get { pointer[index] }
        set { pointer[index] = newValue }
    }
}
