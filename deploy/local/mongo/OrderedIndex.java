// A real secondary index for mongo-java-server's memory and H2 backends (the library's own
// openOrCreateSecondaryIndex returns an EmptyIndex that never answers a query).
//
// Entries are (key values in declared order and direction, _id) -> position, in a sorted map, so
// a prefix of equalities plus one range or sort on the next keys is a contiguous slice. Every
// document has at least one entry (missing fields index as null, like MongoDB; sparse is ignored
// for that reason: indexing more documents than MongoDB would never changes an answer, because
// the collection filters every candidate with the full query). Arrays make a field multikey:
// one entry per element; the planner then neither serves a sort from that key nor intersects two
// bounds on it. The collection's lock (every collection method is synchronized) guards it.

import de.bwaldvogel.mongo.MongoCollection;
import de.bwaldvogel.mongo.backend.Index;
import de.bwaldvogel.mongo.backend.IndexKey;
import de.bwaldvogel.mongo.backend.Missing;
import de.bwaldvogel.mongo.bson.Document;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.NavigableMap;
import java.util.Set;
import java.util.TreeMap;

class OrderedIndex<P> extends Index<P> {

    /** Index-order key: components (values or KeyOrder sentinels), then the document's _id. */
    record Entry(Object[] key, Object id) {}

    final List<String> paths = new ArrayList<>();
    final int[] dirs;
    /** A path with a numeric part ("a.0") could address an array element: never serve from it. */
    final boolean positional;
    /** Per key: how many documents have an array on the way to it. */
    final long[] multikey;
    final Comparator<Entry> order;
    final TreeMap<Entry, P> entries;

    OrderedIndex(String name, List<IndexKey> keys, boolean sparse) {
        super(name, keys, sparse);
        dirs = new int[keys.size()];
        multikey = new long[keys.size()];
        boolean numeric = false;
        for (int i = 0; i < keys.size(); i++) {
            paths.add(keys.get(i).getKey());
            dirs[i] = keys.get(i).isAscending() ? 1 : -1;
            for (String part : keys.get(i).getKey().split("\\.")) {
                numeric |= !part.isEmpty() && part.chars().allMatch(Character::isDigit);
            }
        }
        positional = numeric;
        order = (a, b) -> {
            for (int i = 0; i < dirs.length; i++) {
                int c = component(a.key()[i], b.key()[i], dirs[i]);
                if (c != 0) return c;
            }
            return component(a.id(), b.id(), 1);
        };
        entries = new TreeMap<>(order);
    }

    static int component(Object a, Object b, int dir) {
        if (a instanceof KeyOrder.Edge ea) {
            if (b instanceof KeyOrder.Edge eb) return ea.compareTo(eb);
            return ea == KeyOrder.Edge.MIN ? -1 : 1;
        }
        if (b instanceof KeyOrder.Edge eb) return eb == KeyOrder.Edge.MIN ? 1 : -1;
        return dir * KeyOrder.compare(a, b);
    }

    boolean multikey(int i) {
        return multikey[i] > 0;
    }

    boolean anyMultikey() {
        for (long m : multikey) if (m > 0) return true;
        return false;
    }

    // --- keys of a document ---------------------------------------------------------------

    /** The values a path reaches, the way the query matcher reaches them: through arrays at any
     *  depth; a missing field, or a path through a scalar, gives null. Returns whether an array
     *  was on the way (multikey). */
    static boolean collect(Object value, String[] parts, int at, Collection<Object> out) {
        if (value instanceof Collection<?> list) {
            if (at == parts.length && list.isEmpty()) {
                out.add(List.of()); // MongoDB indexes [] as undefined: matches neither null nor values
            } else if (list.isEmpty()) {
                out.add(null);
            }
            for (Object element : list) {
                if (at == parts.length) {
                    out.add(element instanceof Missing ? null : element);
                } else {
                    collect(element, parts, at, out);
                }
            }
            return true;
        }
        if (at == parts.length) {
            out.add(value instanceof Missing ? null : value);
            return false;
        }
        if (value instanceof Document doc) {
            return collect(doc.getOrMissing(parts[at]), parts, at + 1, out);
        }
        out.add(null);
        return false;
    }

    List<Entry> entriesOf(Document document, boolean[] arrays) {
        List<List<Object>> perKey = new ArrayList<>();
        for (int i = 0; i < paths.size(); i++) {
            Set<Object> values = new java.util.TreeSet<>(KeyOrder::compare);
            arrays[i] = collect(document, paths.get(i).split("\\."), 0, values);
            perKey.add(new ArrayList<>(values));
        }
        Object id = document.get("_id");
        List<Entry> out = new ArrayList<>();
        product(perKey, 0, new Object[paths.size()], id, out);
        return out;
    }

    /** Compound keys over arrays: every combination (MongoDB refuses parallel arrays; indexing
     *  all combinations is a superset, so answers stay right). */
    private static void product(List<List<Object>> perKey, int i, Object[] acc, Object id, List<Entry> out) {
        if (i == perKey.size()) {
            out.add(new Entry(acc.clone(), id));
            return;
        }
        for (Object v : perKey.get(i)) {
            acc[i] = v;
            product(perKey, i + 1, acc, id, out);
        }
    }

    // --- Index ----------------------------------------------------------------------------

    @Override
    public P getPosition(Document document) {
        return null; // the _id index answers this for the collection
    }

    @Override
    public void checkAdd(Document document, MongoCollection<P> collection) {
        // not unique: nothing can conflict
    }

    @Override
    public void add(Document document, P position, MongoCollection<P> collection) {
        index(document, position);
    }

    @Override
    public P remove(Document document) {
        return unindex(document);
    }

    /** Adds a document's entries (subclasses wrapping another index call this, not add). */
    final void index(Document document, P position) {
        boolean[] arrays = new boolean[paths.size()];
        for (Entry e : entriesOf(document, arrays)) {
            entries.put(e, position);
        }
        for (int i = 0; i < arrays.length; i++) if (arrays[i]) multikey[i]++;
    }

    /** Removes a document's entries; returns its position, or null if it had none. */
    final P unindex(Document document) {
        boolean[] arrays = new boolean[paths.size()];
        P position = null;
        boolean found = false;
        for (Entry e : entriesOf(document, arrays)) {
            if (entries.containsKey(e)) { // a position may be null (H2, {_id: null})
                position = entries.remove(e);
                found = true;
            }
        }
        if (found) {
            for (int i = 0; i < arrays.length; i++) if (arrays[i]) multikey[i]--;
        }
        return position;
    }

    @Override
    public boolean canHandle(Document query) {
        return false; // the planner (IndexPlanner) drives this index directly
    }

    @Override
    public Iterable<P> getPositions(Document query) {
        throw new UnsupportedOperationException("use IndexPlanner");
    }

    /** Set while an H2 store opens: the library then skips its own build (two passes over the
     *  file per index) and IndexedBackends fills all of a collection's indexes in one pass. */
    boolean deferred;

    @Override
    public boolean isEmpty() {
        return !deferred && entries.isEmpty();
    }

    @Override
    public long getCount() {
        return entries.size();
    }

    @Override
    public long getDataSize() {
        return entries.size();
    }

    @Override
    public void checkUpdate(Document oldDocument, Document newDocument, MongoCollection<P> collection) {
    }

    @Override
    public void updateInPlace(Document oldDocument, Document newDocument, P position, MongoCollection<P> collection) {
        unindex(oldDocument);
        index(newDocument, position);
    }

    @Override
    public void drop() {
        clear();
    }

    final void clear() {
        entries.clear();
        java.util.Arrays.fill(multikey, 0);
    }

    /** Declared with partialFilterExpression (set by IndexedBackends.markPartial). */
    volatile boolean partial;

    /** Whether MongoDB's index would hold every document, so that walking it alone can serve a
     *  sort. Ours always does (see the class comment), but a plan real MongoDB cannot have would
     *  hide a missing index. */
    boolean complete() {
        return !isSparse() && !partial;
    }

    /** Entries between two probes (inclusive), in index order or reversed. */
    NavigableMap<Entry, P> slice(Entry from, Entry to, boolean reverse) {
        NavigableMap<Entry, P> m = entries.subMap(from, true, to, true);
        return reverse ? m.descendingMap() : m;
    }

    LinkedHashSet<String> pathSet() {
        return new LinkedHashSet<>(paths);
    }
}
