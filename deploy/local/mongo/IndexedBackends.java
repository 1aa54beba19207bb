// The memory and H2 backends of mongo-java-server, extended through their own extension points
// (backend -> database -> collection -> index subclasses; no patched jar): secondary indexes are
// OrderedIndex instances, the `_id` index is mirrored in index order (IdIndex), every collection
// plans its queries with IndexPlanner, and databases answer the `explain` command.

import de.bwaldvogel.mongo.MongoCollection;
import de.bwaldvogel.mongo.MongoDatabase;
import de.bwaldvogel.mongo.backend.CollectionOptions;
import de.bwaldvogel.mongo.backend.CursorRegistry;
import de.bwaldvogel.mongo.backend.DatabaseResolver;
import de.bwaldvogel.mongo.backend.Index;
import de.bwaldvogel.mongo.backend.IndexKey;
import de.bwaldvogel.mongo.backend.Missing;
import de.bwaldvogel.mongo.backend.QueryParameters;
import de.bwaldvogel.mongo.backend.QueryResult;
import de.bwaldvogel.mongo.backend.h2.H2Backend;
import de.bwaldvogel.mongo.backend.h2.H2Collection;
import de.bwaldvogel.mongo.backend.h2.H2Database;
import de.bwaldvogel.mongo.backend.memory.MemoryBackend;
import de.bwaldvogel.mongo.backend.memory.MemoryCollection;
import de.bwaldvogel.mongo.backend.memory.MemoryDatabase;
import de.bwaldvogel.mongo.bson.Document;
import de.bwaldvogel.mongo.oplog.Oplog;
import io.netty.channel.Channel;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;
import org.h2.mvstore.MVMap;
import org.h2.mvstore.MVStore;

final class IndexedBackends {

    private IndexedBackends() {}

    /** Secondary index entries built at start (H2 rebuilds its secondary indexes in memory). */
    static final AtomicLong REBUILT_ENTRIES = new AtomicLong();

    static IndexPlanner.Host<?> host(MongoDatabase db, String name) {
        MongoCollection<?> c = db.resolveCollection(name, false);
        return c instanceof IndexPlanner.Host<?> h ? h : null;
    }

    /** The library drops `partialFilterExpression` before it opens an index; the planner needs
     *  it (a partial index lacks documents, so it must not serve a sort alone). */
    static void markPartial(MongoDatabase db, Document description) {
        if (!description.containsKey("partialFilterExpression")) return;
        String ns = String.valueOf(description.get("ns"));
        IndexPlanner.Host<?> host = host(db, ns.substring(ns.indexOf('.') + 1));
        if (host == null) return;
        for (Index<?> index : host.getIndexes()) {
            if (index instanceof OrderedIndex<?> o && o.getName().equals(description.get("name"))) o.partial = true;
        }
    }

    // --- memory -----------------------------------------------------------------------------

    static final class Memory extends MemoryBackend {
        @Override
        public MemoryDatabase openOrCreateDatabase(String databaseName) {
            return new MemoryDb(databaseName, getCursorRegistry());
        }
    }

    static final class MemoryDb extends MemoryDatabase {
        MemoryDb(String name, CursorRegistry cursors) {
            super(name, cursors);
        }

        @Override
        protected MemoryCollection openOrCreateCollection(String collectionName, CollectionOptions options) {
            return new MemoryColl(this, collectionName, options, cursorRegistry);
        }

        @Override
        protected Index<Integer> openOrCreateSecondaryIndex(String collectionName, String indexName, List<IndexKey> keys, boolean sparse) {
            return new OrderedIndex<>(indexName, keys, sparse);
        }

        @Override
        protected void addIndex(Document description) {
            super.addIndex(description);
            markPartial(this, description);
        }

        @Override
        protected Index<Integer> openOrCreateUniqueIndex(String collectionName, String indexName, List<IndexKey> keys, boolean sparse) {
            Index<Integer> unique = super.openOrCreateUniqueIndex(collectionName, indexName, keys, sparse);
            return IdIndex.isPrimaryKey(keys) ? new IdIndex<>(unique) : unique;
        }

        @Override
        public Document handleCommand(Channel channel, String command, Document query, DatabaseResolver resolver, Oplog oplog) {
            if (command.equalsIgnoreCase("explain")) return IndexPlanner.explainCommand(n -> host(this, n), query);
            return super.handleCommand(channel, command, query, resolver, oplog);
        }
    }

    static final class MemoryColl extends MemoryCollection implements IndexPlanner.Host<Integer> {
        MemoryColl(MongoDatabase db, String name, CollectionOptions options, CursorRegistry cursors) {
            super(db, name, options, cursors);
        }

        @Override
        protected QueryResult queryDocuments(Document query, Document orderBy, int skip, int limit, int batchSize, Document fields) {
            return IndexPlanner.run(this, query, orderBy, skip, limit, batchSize, fields);
        }

        @Override
        public String fullName() {
            return getFullName();
        }

        @Override
        public Document fetch(Integer position) {
            return getDocument(position);
        }

        @Override
        public QueryResult fromStream(Document query, Stream<Document> docs, int skip, int limit, int batchSize,
                                      Comparator<Document> sort, Document fields) {
            return matchDocumentsFromStream(query, docs, skip, limit, batchSize, sort, fields);
        }

        @Override
        public QueryResult libraryQuery(Document query, Document orderBy, int skip, int limit, int batchSize, Document fields) {
            return super.queryDocuments(query, orderBy, skip, limit, batchSize, fields);
        }
    }

    // --- H2 (on disk) -----------------------------------------------------------------------

    static final class H2 extends H2Backend {
        H2(String fileName) {
            super(fileName);
        }

        @Override
        protected MongoDatabase openOrCreateDatabase(String databaseName) {
            return new H2Db(databaseName, getMvStore(), getCursorRegistry());
        }
    }

    static final class H2Db extends H2Database {
        private MVStore store; // set after H2Database's constructor, which must not open collections
        private boolean ready;
        private Map<String, List<OrderedIndex<Object>>> opening = new LinkedHashMap<>();

        H2Db(String name, MVStore store, CursorRegistry cursors) {
            super(name, store, cursors);
            this.store = store;
            this.ready = true;
            super.initializeNamespacesAndIndexes();
            // Secondary indexes of existing collections: one pass over each collection's file.
            Map<String, List<OrderedIndex<Object>>> built = opening;
            opening = null;
            built.forEach((collection, indexes) -> {
                if (resolveCollection(collection, false) instanceof H2Coll coll) coll.build(indexes);
            });
            // Reopened indexes come from system.indexes, not through addIndex.
            MongoCollection<?> described = resolveCollection("system.indexes", false);
            if (described != null) {
                for (Document d : described.handleQuery(new QueryParameters(new Document(), 0, 0))) markPartial(this, d);
            }
        }

        @Override
        protected void initializeNamespacesAndIndexes() {
            // H2Database's constructor calls this before our fields exist; we call it ourselves.
            if (ready) super.initializeNamespacesAndIndexes();
        }

        @Override
        protected MongoCollection<Object> openOrCreateCollection(String collectionName, CollectionOptions options) {
            String full = getFullCollectionNamespace(collectionName);
            // The map names H2Database uses, so existing dev files open unchanged.
            MVMap<Object, Document> data = store.openMap("databases." + full);
            MVMap<String, Object> meta = store.openMap("meta." + full);
            return new H2Coll(this, collectionName, options, data, meta, cursorRegistry);
        }

        @Override
        protected Index<Object> openOrCreateSecondaryIndex(String collectionName, String indexName, List<IndexKey> keys, boolean sparse) {
            OrderedIndex<Object> index = new OrderedIndex<>(indexName, keys, sparse);
            if (opening != null) {
                index.deferred = true;
                opening.computeIfAbsent(collectionName, k -> new ArrayList<>()).add(index);
            }
            return index;
        }

        @Override
        protected void addIndex(Document description) {
            super.addIndex(description);
            markPartial(this, description);
        }

        @Override
        protected Index<Object> openOrCreateUniqueIndex(String collectionName, String indexName, List<IndexKey> keys, boolean sparse) {
            Index<Object> unique = super.openOrCreateUniqueIndex(collectionName, indexName, keys, sparse);
            if (!IdIndex.isPrimaryKey(keys)) return unique;
            // The unique part is on disk; its ordered mirror is rebuilt with the secondary indexes.
            IdIndex<Object> index = new IdIndex<>(unique);
            if (opening != null) opening.computeIfAbsent(collectionName, k -> new ArrayList<>()).add(index);
            return index;
        }

        @Override
        public Document handleCommand(Channel channel, String command, Document query, DatabaseResolver resolver, Oplog oplog) {
            if (command.equalsIgnoreCase("explain")) return IndexPlanner.explainCommand(n -> host(this, n), query);
            return super.handleCommand(channel, command, query, resolver, oplog);
        }
    }

    static final class H2Coll extends H2Collection implements IndexPlanner.Host<Object> {
        H2Coll(MongoDatabase db, String name, CollectionOptions options, MVMap<Object, Document> data,
               MVMap<String, Object> meta, CursorRegistry cursors) {
            super(db, name, options, data, meta, cursors);
        }

        @Override
        protected QueryResult queryDocuments(Document query, Document orderBy, int skip, int limit, int batchSize, Document fields) {
            return IndexPlanner.run(this, query, orderBy, skip, limit, batchSize, fields);
        }

        @Override
        public String fullName() {
            return getFullName();
        }

        void build(List<OrderedIndex<Object>> indexes) {
            streamAllDocumentsWithPosition().forEach(d -> {
                for (OrderedIndex<Object> index : indexes) index.index(d.getDocument(), d.getPosition());
            });
            for (OrderedIndex<Object> index : indexes) {
                index.deferred = false;
                REBUILT_ENTRIES.addAndGet(index.entries.size());
            }
        }

        @Override
        public Document fetch(Object position) {
            // H2 keys {_id: null} as Missing but hands out null as its position on insert.
            return getDocument(Missing.ofNullable(position));
        }

        @Override
        public QueryResult fromStream(Document query, Stream<Document> docs, int skip, int limit, int batchSize,
                                      Comparator<Document> sort, Document fields) {
            return matchDocumentsFromStream(query, docs, skip, limit, batchSize, sort, fields);
        }

        @Override
        public QueryResult libraryQuery(Document query, Document orderBy, int skip, int limit, int batchSize, Document fields) {
            return super.queryDocuments(query, orderBy, skip, limit, batchSize, fields);
        }
    }
}
