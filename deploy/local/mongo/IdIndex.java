// The `_id` index: the library's own unique index (uniqueness, point lookups, and whatever the
// library asks of its primary key) mirrored in index order, so that a sort or a range on `_id`
// walks it the way MongoDB walks its `_id_` B-tree (`find({}).sort({_id: 1}).limit(n)` reads n
// documents). The library's unique index is a hash map (memory) or keyed by serialized bytes
// (H2), neither in BSON order, hence the mirror. `_id` is never an array, so it is never multikey.

import de.bwaldvogel.mongo.MongoCollection;
import de.bwaldvogel.mongo.backend.Index;
import de.bwaldvogel.mongo.backend.IndexKey;
import de.bwaldvogel.mongo.bson.Document;
import java.util.List;

final class IdIndex<P> extends OrderedIndex<P> {

    final Index<P> unique;

    IdIndex(Index<P> unique) {
        super(unique.getName(), unique.getKeys(), false);
        this.unique = unique;
    }

    /** The primary key index the library opens for every collection. */
    static boolean isPrimaryKey(List<IndexKey> keys) {
        return keys.size() == 1 && keys.get(0).getKey().equals("_id");
    }

    /** One entry, the `_id` itself: the general path (dotted paths, arrays) is not needed. */
    @Override
    List<Entry> entriesOf(Document document, boolean[] arrays) {
        Object id = document.get("_id");
        return List.of(new Entry(new Object[] {id}, id));
    }

    @Override
    public boolean isUnique() {
        return true;
    }

    @Override
    public P getPosition(Document document) {
        return unique.getPosition(document);
    }

    @Override
    public void checkAdd(Document document, MongoCollection<P> collection) {
        unique.checkAdd(document, collection);
    }

    @Override
    public void add(Document document, P position, MongoCollection<P> collection) {
        unique.add(document, position, collection);
        index(document, position);
    }

    @Override
    public P remove(Document document) {
        P position = unique.remove(document);
        unindex(document);
        return position;
    }

    @Override
    public boolean canHandle(Document query) {
        return unique.canHandle(query);
    }

    @Override
    public Iterable<P> getPositions(Document query) {
        return unique.getPositions(query);
    }

    @Override
    public boolean isEmpty() {
        return unique.isEmpty();
    }

    @Override
    public long getCount() {
        return unique.getCount();
    }

    @Override
    public long getDataSize() {
        return unique.getDataSize();
    }

    @Override
    public void checkUpdate(Document oldDocument, Document newDocument, MongoCollection<P> collection) {
        unique.checkUpdate(oldDocument, newDocument, collection);
    }

    @Override
    public void updateInPlace(Document oldDocument, Document newDocument, P position, MongoCollection<P> collection) {
        unique.updateInPlace(oldDocument, newDocument, position, collection);
        unindex(oldDocument);
        index(newDocument, position);
    }

    @Override
    public void drop() {
        unique.drop();
        clear();
    }
}
