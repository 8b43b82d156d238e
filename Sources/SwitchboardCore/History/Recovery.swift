import NIOCore

/// Merges replayed history with live messages that arrived while the replay was read.
///
/// Pure: given the offset the client last saw, the history read, and the live items buffered
/// meanwhile, returns what to deliver, in offset order, with no duplicate and nothing at or before `after`.
public enum Recovery {
    /// The items to deliver after `after`: history first, then the live ones history did not cover.
    ///
    /// Items without an offset (presence changes) are passed through in arrival order.
    public static func merge<Item>(
        after: UInt64,
        history: [Item],
        buffered: [Item],
        offset: (Item) -> UInt64?
    ) -> [Item] {
        var result: [Item] = []
        result.reserveCapacity(history.count + buffered.count)
        var last = after
        for item in history {
            guard let position = offset(item), position > last else { continue }
            result.append(item)
            last = position
        }
        for item in buffered {
            guard let position = offset(item) else {
                result.append(item)
                continue
            }
            guard position > last else { continue }
            result.append(item)
            last = position
        }
        return result
    }

    /// The newest of `publications` (oldest first) that fit in `frames` messages and `bytes` of data, oldest first.
    ///
    /// A replay larger than a connection's queue would end it as too slow, and its client would reconnect and ask for
    /// the same replay again, for ever; so a protocol without a way to say "cannot recover" replays what fits, the
    /// newest, as a trimmed history would.
    public static func newest(_ publications: [Publication], frames: Int, bytes: Int) -> ArraySlice<Publication> {
        var start = publications.endIndex
        var total = 0
        while start > publications.startIndex, publications.endIndex - start < frames {
            let size = publications[start - 1].data.readableBytes
            guard total + size <= bytes else { break }
            total += size
            start -= 1
        }
        return publications[start...]
    }
}
