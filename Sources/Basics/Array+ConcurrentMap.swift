import Dispatch

extension Array where Element: Sendable {
    /// `map` on every core: each element is transformed on its own iteration of
    /// `concurrentPerform`; results keep the order of the array.
    public func concurrentMap<T: Sendable>(_ transform: @Sendable (Element) -> T) -> [T] {
        let slots = UnsafeMutableBufferPointer<T?>.allocate(capacity: count)
        slots.initialize(repeating: nil)
        defer { slots.deinitialize().deallocate() }
        // Each iteration writes only its own slot, so no two threads touch the same element.
        nonisolated(unsafe) let shared = slots
        withoutActuallyEscaping(transform) { transform in
            let elements = self
            DispatchQueue.concurrentPerform(iterations: elements.count) { index in
                shared[index] = transform(elements[index])
            }
        }
        return slots.compactMap { $0 }  // every slot was filled above
    }
}
