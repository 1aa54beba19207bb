// Chooses an index for a query and runs it, for both backends (memory, H2).
//
// The library only asks each index `canHandle(query)`, which unique indexes answer yes only when
// the query names exactly their keys. Here, any index whose leading keys have equality (or $in)
// in the query serves it, the next key may carry one range, and a sort on the keys after the
// equalities (all in index direction, or all reversed) is served in index order, so sort + limit
// stops after `skip + limit` matches. Candidates are always filtered with the full query by the
// collection, so an index only has to return a superset of the matches; whatever it cannot bound
// safely (documents, arrays, regexes, type-mixed ranges, positional paths) is left unbounded.
// A `$or` (top level, or one element of a top-level `$and`) whose every branch can use an index
// is an index union, as in MongoDB (OR stage): each branch planned on its own, positions
// de-duplicated; any branch without an index and the union is declined (a scan), since that
// branch alone would need one. A sort on an index's leading keys (the `_id` index included) walks
// it even without a filter, stopping after `skip + limit` matches; not from a sparse or partial
// index, which in MongoDB lacks documents.
// Choice: a unique index with equality on all its keys; else an index with equality keys (most
// first, then a served sort, then a range); else a `$or` union; else a range or a served sort.
// No usable index: the library's own path (unique canHandle, else a scan).

import de.bwaldvogel.mongo.backend.DocumentComparator;
import de.bwaldvogel.mongo.backend.Index;
import de.bwaldvogel.mongo.backend.IndexKey;
import de.bwaldvogel.mongo.backend.QueryResult;
import de.bwaldvogel.mongo.bson.BsonRegularExpression;
import de.bwaldvogel.mongo.bson.Document;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.PriorityQueue;
import java.util.Set;
import java.util.Spliterator;
import java.util.Spliterators;
import java.util.function.Function;
import java.util.stream.Stream;
import java.util.stream.StreamSupport;

final class IndexPlanner {

    private IndexPlanner() {}

    /** What a collection subclass lends the planner (protected methods of the library). */
    interface Host<P> {
        List<Index<P>> getIndexes();

        Document fetch(P position);

        int count();

        String fullName();

        QueryResult fromStream(Document query, Stream<Document> docs, int skip, int limit, int batchSize,
                               Comparator<Document> sort, Document fields);

        QueryResult libraryQuery(Document query, Document orderBy, int skip, int limit, int batchSize, Document fields);
    }

    static final int MAX_POINTS = 1000;

    /** What the query says about one field, as far as an index can use it. */
    static final class Pred {
        List<Object> points; // equality / $in values, sorted and distinct
        Object lo, hi;
        boolean loIncl, hiIncl;
    }

    static final class Stats {
        long keys, docs;
    }

    /** A chosen plan; positions() yields candidate positions (each once). */
    static final class Plan<P> {
        /** An index union (`$or`): one plan per branch, and no index of its own. */
        List<Plan<P>> branches;
        Index<P> index;
        boolean unique;
        int equalities;
        boolean sortServed, reverse, range;
        final List<Object[]> bounds = new ArrayList<>(); // [from Entry, to Entry] per slice
        List<P> uniquePositions;
        final Stats stats = new Stats();

        int score(boolean sorted) {
            if (unique) return 1_000_000;
            return equalities * 100 + (sorted && sortServed ? 10 : 0) + (range ? 1 : 0);
        }
    }

    // --- query analysis -------------------------------------------------------------------

    static Map<String, Pred> analyse(Document query) {
        Map<String, Pred> out = new LinkedHashMap<>();
        collect(query, out);
        return out;
    }

    private static void collect(Document query, Map<String, Pred> out) {
        for (Map.Entry<String, Object> e : query.entrySet()) {
            String field = e.getKey();
            Object v = e.getValue();
            if (field.equals("$and") && v instanceof Collection<?> all) {
                for (Object clause : all) if (clause instanceof Document d) collect(d, out);
                continue;
            }
            if (field.startsWith("$")) continue; // $or, $nor, $expr, $comment: not bounded here
            Pred p = out.computeIfAbsent(field, k -> new Pred());
            if (v instanceof Document d) {
                if (BsonRegularExpression.isRegularExpression(d) || d.isEmpty()
                        || !d.keySet().iterator().next().startsWith("$")) continue;
                for (Map.Entry<String, Object> op : d.entrySet()) {
                    Object o = op.getValue();
                    switch (op.getKey()) {
                        case "$eq" -> { if (KeyOrder.pointable(o)) points(p, java.util.Collections.singletonList(o)); }
                        case "$in" -> {
                            if (o instanceof Collection<?> c && !c.isEmpty()
                                    && c.stream().allMatch(KeyOrder::pointable)) points(p, c);
                        }
                        case "$gt" -> lower(p, o, false);
                        case "$gte" -> lower(p, o, true);
                        case "$lt" -> upper(p, o, false);
                        case "$lte" -> upper(p, o, true);
                        default -> { }
                    }
                }
            } else if (KeyOrder.pointable(v)) {
                points(p, java.util.Collections.singletonList(v));
            }
        }
    }

    // The first equality on a field wins: two equalities on one field can both hold on an array.
    private static void points(Pred p, Collection<?> values) {
        if (p.points != null) return;
        java.util.TreeSet<Object> set = new java.util.TreeSet<>(KeyOrder::compare);
        set.addAll(values);
        p.points = new ArrayList<>(set);
    }

    private static void lower(Pred p, Object v, boolean incl) {
        if (p.lo == null && KeyOrder.rangeable(v)) {
            p.lo = v;
            p.loIncl = incl;
        }
    }

    private static void upper(Pred p, Object v, boolean incl) {
        if (p.hi == null && KeyOrder.rangeable(v)) {
            p.hi = v;
            p.hiIncl = incl;
        }
    }

    // --- planning -------------------------------------------------------------------------

    static <P> Plan<P> plan(Host<P> host, Document query, Document orderBy) {
        if (orderBy != null && orderBy.containsKey("$natural")) return null;
        Plan<P> best = planSingle(host, query, orderBy);
        // An equality-bounded index beats a union (MongoDB would rank them by trial; equality on
        // an indexed field is the usual winner); a union beats a lone range or a sort walk.
        if (best != null && (best.unique || best.equalities > 0)) return best;
        Plan<P> union = planUnion(host, query);
        return union != null ? union : best;
    }

    /** The first `$or` (top level, then inside a top-level `$and`) all of whose branches can use
     *  an index, as a union of the branches' own plans; null if there is none. */
    private static <P> Plan<P> planUnion(Host<P> host, Document query) {
        List<Object> ors = new ArrayList<>();
        if (query.containsKey("$or")) ors.add(query.get("$or"));
        if (query.get("$and") instanceof Collection<?> all) {
            for (Object clause : all) if (clause instanceof Document d && d.containsKey("$or")) ors.add(d.get("$or"));
        }
        for (Object or : ors) {
            if (!(or instanceof Collection<?> alternatives) || alternatives.isEmpty()) continue;
            List<Plan<P>> branches = new ArrayList<>();
            for (Object alternative : alternatives) {
                Plan<P> branch = alternative instanceof Document d ? plan(host, d, null) : null;
                if (branch == null) {
                    branches = null;
                    break;
                }
                branches.add(branch);
            }
            if (branches == null) continue;
            Plan<P> union = new Plan<>();
            union.branches = branches;
            return union;
        }
        return null;
    }

    private static <P> Plan<P> planSingle(Host<P> host, Document query, Document orderBy) {
        Map<String, Pred> preds = analyse(query);
        boolean sorted = orderBy != null && !orderBy.isEmpty();
        Plan<P> best = null;
        for (Index<P> index : host.getIndexes()) {
            Plan<P> candidate = null;
            if (index instanceof OrderedIndex<P> ordered) {
                candidate = planOrdered(ordered, preds, orderBy);
            }
            if (index.isUnique()) {
                Plan<P> exact = planUnique(index, preds);
                if (exact != null) candidate = exact;
            }
            if (candidate == null) continue;
            if (!candidate.unique && candidate.equalities == 0 && !candidate.range
                    && !(sorted && candidate.sortServed && complete(index))) continue;
            if (best == null || candidate.score(sorted) > best.score(sorted)
                    || (candidate.score(sorted) == best.score(sorted) && candidate.index.getKeys().size() < best.index.getKeys().size())) {
                best = candidate;
            }
        }
        return best;
    }

    private static <P> Plan<P> planUnique(Index<P> index, Map<String, Pred> preds) {
        List<List<Object>> choices = new ArrayList<>();
        long combos = 1;
        for (IndexKey key : index.getKeys()) {
            // The unique index's key extraction differs from the matcher's on paths through
            // nested arrays, so only top-level fields are looked up in it.
            if (key.getKey().contains(".")) return null;
            Pred p = preds.get(key.getKey());
            if (p == null || p.points == null) return null;
            for (Object v : p.points) if (v == null && isSparse(index)) return null;
            combos *= p.points.size();
            if (combos > MAX_POINTS) return null;
            choices.add(p.points);
        }
        Set<P> positions = new LinkedHashSet<>();
        for (Object[] tuple : product(choices)) {
            Document sub = new Document();
            for (int i = 0; i < tuple.length; i++) sub.put(index.getKeys().get(i).getKey(), tuple[i]);
            if (!index.canHandle(sub)) return null;
            for (P p : index.getPositions(sub)) positions.add(p);
        }
        Plan<P> plan = new Plan<>();
        plan.index = index;
        plan.unique = true;
        plan.equalities = index.getKeys().size();
        plan.uniquePositions = new ArrayList<>(positions);
        return plan;
    }

    private static boolean complete(Index<?> index) {
        return index instanceof OrderedIndex<?> o ? o.complete() : !isSparse(index);
    }

    private static boolean isSparse(Index<?> index) {
        return Boolean.TRUE.equals(index.toIndexDescription().get("sparse"));
    }

    private static <P> Plan<P> planOrdered(OrderedIndex<P> index, Map<String, Pred> preds, Document orderBy) {
        if (index.positional) return null;
        int n = index.paths.size();
        List<List<Object>> prefix = new ArrayList<>();
        long combos = 1;
        int i = 0;
        Set<String> fixed = new HashSet<>();
        for (; i < n; i++) {
            Pred p = preds.get(index.paths.get(i));
            if (p == null || p.points == null || combos * p.points.size() > MAX_POINTS) break;
            combos *= p.points.size();
            prefix.add(p.points);
            // One value fixes the sort key, unless an array holds it with other elements (the
            // sort then reads the array's smallest or largest element).
            if (p.points.size() == 1 && !index.multikey(i)) fixed.add(index.paths.get(i));
        }
        Plan<P> plan = new Plan<>();
        plan.index = index;
        plan.equalities = i;

        // A range on the next key: bounded inside the bound's type bracket, as the matcher only
        // compares values of the same type. On a multikey key one bound only (two bounds may be
        // met by different elements), and both bounds only if they are of one type.
        Object lo = null, hi = null;
        boolean loIncl = false, hiIncl = false;
        if (i < n) {
            Pred p = preds.get(index.paths.get(i));
            if (p != null && p.points == null && (p.lo != null || p.hi != null)) {
                lo = p.lo;
                loIncl = p.loIncl;
                hi = p.hi;
                hiIncl = p.hiIncl;
                if (lo != null && hi != null
                        && (index.multikey(i) || KeyOrder.rank(lo) != KeyOrder.rank(hi))) {
                    hi = null;
                }
                plan.range = true;
            }
        }

        // The sort: keys fixed by a single equality drop out; the rest must be the index keys
        // right after the equalities, all in index direction or all reversed, none multikey.
        if (orderBy != null && !orderBy.isEmpty()) {
            List<String> keys = new ArrayList<>();
            List<Integer> dirs = new ArrayList<>();
            for (Map.Entry<String, Object> e : orderBy.entrySet()) {
                if (fixed.contains(e.getKey())) continue;
                keys.add(e.getKey());
                dirs.add(((Number) e.getValue()).intValue() >= 0 ? 1 : -1);
            }
            boolean ok = i + keys.size() <= n;
            Boolean reverse = null;
            for (int j = 0; ok && j < keys.size(); j++) {
                int k = i + j;
                boolean rev = dirs.get(j) != index.dirs[k];
                ok = keys.get(j).equals(index.paths.get(k)) && !index.multikey(k)
                    && (reverse == null || reverse == rev);
                reverse = rev;
            }
            plan.sortServed = ok;
            plan.reverse = ok && Boolean.TRUE.equals(reverse);
        }

        // One slice per combination of the equality values.
        for (Object[] tuple : product(prefix)) {
            Object[] from = new Object[n], to = new Object[n];
            System.arraycopy(tuple, 0, from, 0, tuple.length);
            System.arraycopy(tuple, 0, to, 0, tuple.length);
            int rest = tuple.length;
            if (plan.range) {
                Object vLo = lo != null ? lo : new KeyOrder.Bracket(KeyOrder.rank(hi), false);
                Object vHi = hi != null ? hi : new KeyOrder.Bracket(KeyOrder.rank(lo), true);
                boolean inLo = lo == null || loIncl, inHi = hi == null || hiIncl;
                boolean asc = index.dirs[i] > 0;
                from[i] = asc ? vLo : vHi;
                to[i] = asc ? vHi : vLo;
                boolean fromIncl = asc ? inLo : inHi, toIncl = asc ? inHi : inLo;
                fill(from, i + 1, fromIncl ? KeyOrder.Edge.MIN : KeyOrder.Edge.MAX);
                fill(to, i + 1, toIncl ? KeyOrder.Edge.MAX : KeyOrder.Edge.MIN);
                plan.bounds.add(new Object[] {
                    new OrderedIndex.Entry(from, fromIncl ? KeyOrder.Edge.MIN : KeyOrder.Edge.MAX),
                    new OrderedIndex.Entry(to, toIncl ? KeyOrder.Edge.MAX : KeyOrder.Edge.MIN)});
            } else {
                fill(from, rest, KeyOrder.Edge.MIN);
                fill(to, rest, KeyOrder.Edge.MAX);
                plan.bounds.add(new Object[] {
                    new OrderedIndex.Entry(from, KeyOrder.Edge.MIN), new OrderedIndex.Entry(to, KeyOrder.Edge.MAX)});
            }
        }
        return plan;
    }

    private static void fill(Object[] key, int from, Object value) {
        for (int k = from; k < key.length; k++) key[k] = value;
    }

    private static List<Object[]> product(List<List<Object>> choices) {
        List<Object[]> out = new ArrayList<>();
        out.add(new Object[0]);
        for (List<Object> values : choices) {
            List<Object[]> next = new ArrayList<>();
            for (Object[] head : out) {
                for (Object v : values) {
                    Object[] t = java.util.Arrays.copyOf(head, head.length + 1);
                    t[head.length] = v;
                    next.add(t);
                }
            }
            out = next;
        }
        return out;
    }

    // --- execution ------------------------------------------------------------------------

    @SuppressWarnings("unchecked")
    static <P> Iterator<P> positions(Plan<P> plan) {
        if (plan.branches != null) {
            // Each branch yields its positions once; a document several branches hold, once.
            List<Iterator<P>> parts = new ArrayList<>();
            for (Plan<P> branch : plan.branches) parts.add(positions(branch));
            return distinct(concat(parts));
        }
        if (plan.unique) {
            Iterator<P> it = plan.uniquePositions.iterator();
            return counting(it, plan.stats);
        }
        OrderedIndex<P> index = (OrderedIndex<P>) plan.index;
        List<Iterator<Map.Entry<OrderedIndex.Entry, P>>> slices = new ArrayList<>();
        for (Object[] b : plan.bounds) {
            OrderedIndex.Entry from = (OrderedIndex.Entry) b[0], to = (OrderedIndex.Entry) b[1];
            if (index.order.compare(from, to) > 0) continue;
            slices.add(index.slice(from, to, plan.reverse).entrySet().iterator());
        }
        Iterator<Map.Entry<OrderedIndex.Entry, P>> merged;
        if (plan.sortServed && slices.size() > 1) {
            // The slices differ only in their equality prefix: merge them on the keys after it.
            int skip = plan.equalities;
            Comparator<OrderedIndex.Entry> tail = (a, c) -> {
                for (int k = skip; k < index.dirs.length; k++) {
                    int r = OrderedIndex.component(a.key()[k], c.key()[k], index.dirs[k]);
                    if (r != 0) return r;
                }
                return OrderedIndex.component(a.id(), c.id(), 1);
            };
            merged = merge(slices, plan.reverse ? tail.reversed() : tail);
        } else {
            merged = concat(slices);
        }
        Iterator<Map.Entry<OrderedIndex.Entry, P>> source = merged;
        Iterator<P> keys = new Iterator<>() {
            @Override
            public boolean hasNext() {
                return source.hasNext();
            }

            @Override
            public P next() {
                plan.stats.keys++;
                return source.next().getValue();
            }
        };
        return distinct(keys);
    }

    /** Each position once (a multikey document has several entries; a union, several branches). */
    private static <P> Iterator<P> distinct(Iterator<P> source) {
        Set<P> seen = new HashSet<>();
        return new Iterator<>() {
            P next;
            boolean ready; // not `next != null`: H2's position of the document {_id: null} is null

            @Override
            public boolean hasNext() {
                while (!ready && source.hasNext()) {
                    P p = source.next();
                    if (seen.add(p)) {
                        next = p;
                        ready = true;
                    }
                }
                return ready;
            }

            @Override
            public P next() {
                if (!hasNext()) throw new NoSuchElementException();
                ready = false;
                return next;
            }
        };
    }

    private static <P> Iterator<P> counting(Iterator<P> it, Stats stats) {
        return new Iterator<>() {
            @Override
            public boolean hasNext() {
                return it.hasNext();
            }

            @Override
            public P next() {
                stats.keys++;
                return it.next();
            }
        };
    }

    private static <T> Iterator<T> concat(List<Iterator<T>> parts) {
        return new Iterator<>() {
            int at = 0;

            @Override
            public boolean hasNext() {
                while (at < parts.size() && !parts.get(at).hasNext()) at++;
                return at < parts.size();
            }

            @Override
            public T next() {
                if (!hasNext()) throw new NoSuchElementException();
                return parts.get(at).next();
            }
        };
    }

    private static <P> Iterator<Map.Entry<OrderedIndex.Entry, P>> merge(
            List<Iterator<Map.Entry<OrderedIndex.Entry, P>>> parts, Comparator<OrderedIndex.Entry> cmp) {
        record Head<P>(Map.Entry<OrderedIndex.Entry, P> entry, Iterator<Map.Entry<OrderedIndex.Entry, P>> rest) {}
        PriorityQueue<Head<P>> heap = new PriorityQueue<>((a, b) -> cmp.compare(a.entry().getKey(), b.entry().getKey()));
        for (Iterator<Map.Entry<OrderedIndex.Entry, P>> it : parts) if (it.hasNext()) heap.add(new Head<>(it.next(), it));
        return new Iterator<>() {
            @Override
            public boolean hasNext() {
                return !heap.isEmpty();
            }

            @Override
            public Map.Entry<OrderedIndex.Entry, P> next() {
                Head<P> h = heap.poll();
                if (h == null) throw new NoSuchElementException();
                if (h.rest().hasNext()) heap.add(new Head<>(h.rest().next(), h.rest()));
                return h.entry();
            }
        };
    }

    /** The collection's query, planned here first. Returns null when no index applies. */
    static <P> QueryResult query(Host<P> host, Plan<P> plan, Document query, Document orderBy, int skip, int limit,
                                 int batchSize, Document fields) {
        Iterator<P> it = positions(plan);
        Function<P, Document> fetch = p -> {
            plan.stats.docs++;
            return host.fetch(p);
        };
        Stream<Document> docs = StreamSupport.stream(Spliterators.spliteratorUnknownSize(it, Spliterator.ORDERED), false)
            .map(fetch).filter(java.util.Objects::nonNull);
        boolean sorted = orderBy != null && !orderBy.isEmpty();
        Comparator<Document> sort = sorted && !plan.sortServed ? new DocumentComparator(orderBy) : null;
        return host.fromStream(query, docs, skip, limit, batchSize, sort, fields);
    }

    static <P> QueryResult run(Host<P> host, Document query, Document orderBy, int skip, int limit, int batchSize,
                               Document fields) {
        Plan<P> plan = plan(host, query, orderBy);
        if (plan == null) return host.libraryQuery(query, orderBy, skip, limit, batchSize, fields);
        return query(host, plan, query, orderBy, skip, limit, batchSize, fields);
    }

    // --- explain --------------------------------------------------------------------------

    /** MongoDB's explain shape: queryPlanner.winningPlan (LIMIT/SKIP/SORT over FETCH over IXSCAN,
     *  or COLLSCAN) and executionStats, from running the query (reads only, even for writes). */
    static <P> Document explain(Host<P> host, Document query, Document orderBy, int skip, int limit) {
        long started = System.nanoTime();
        Plan<P> plan = plan(host, query, orderBy);
        Document stage;
        long returned = 0, keys = 0, docs;
        boolean sorted = orderBy != null && !orderBy.isEmpty();
        if (plan != null) {
            for (Document ignored : query(host, plan, query, orderBy, skip, limit, 0, null)) returned++;
            keys = keysExamined(plan);
            docs = plan.stats.docs;
            stage = new Document("stage", "FETCH").append("docsExamined", docs).append("inputStage", scanStage(plan));
            if (sorted && !plan.sortServed) stage = new Document("stage", "SORT").append("sortPattern", orderBy).append("inputStage", stage);
        } else {
            String served = null;
            for (Index<P> index : host.getIndexes()) {
                if (index.canHandle(query)) {
                    served = index.getName();
                    break;
                }
            }
            for (Document ignored : host.libraryQuery(query, orderBy, skip, limit, 0, null)) returned++;
            if (served != null) {
                docs = returned;
                keys = returned;
                Document ixscan = new Document("stage", "IXSCAN").append("indexName", served).append("keysExamined", keys);
                stage = new Document("stage", "FETCH").append("docsExamined", docs).append("inputStage", ixscan);
            } else {
                docs = host.count();
                stage = new Document("stage", "COLLSCAN").append("direction", "forward").append("docsExamined", docs);
            }
            if (sorted) stage = new Document("stage", "SORT").append("sortPattern", orderBy).append("inputStage", stage);
        }
        if (skip > 0) stage = new Document("stage", "SKIP").append("skipAmount", skip).append("inputStage", stage);
        if (limit > 0) stage = new Document("stage", "LIMIT").append("limitAmount", limit).append("inputStage", stage);
        Document planner = new Document("plannerVersion", 1)
            .append("namespace", host.fullName())
            .append("indexFilterSet", false)
            .append("parsedQuery", query)
            .append("winningPlan", stage)
            .append("rejectedPlans", new ArrayList<>());
        Document stats = new Document("executionSuccess", true)
            .append("nReturned", returned)
            .append("executionTimeMillis", (System.nanoTime() - started) / 1_000_000)
            .append("totalKeysExamined", keys)
            .append("totalDocsExamined", docs)
            .append("executionStages", stage);
        Document response = new Document("queryPlanner", planner).append("executionStats", stats);
        response.put("ok", 1.0);
        return response;
    }

    private static long keysExamined(Plan<?> plan) {
        if (plan.branches == null) return plan.stats.keys;
        long keys = 0;
        for (Plan<?> branch : plan.branches) keys += keysExamined(branch);
        return keys;
    }

    /** IXSCAN for one index; OR over the branches' stages for a union (MongoDB's shape). */
    private static Document scanStage(Plan<?> plan) {
        if (plan.branches != null) {
            List<Document> inputs = new ArrayList<>();
            for (Plan<?> branch : plan.branches) inputs.add(scanStage(branch));
            return new Document("stage", "OR").append("keysExamined", keysExamined(plan)).append("inputStages", inputs);
        }
        Document ixscan = new Document("stage", "IXSCAN");
        Document keyPattern = new Document();
        for (IndexKey k : plan.index.getKeys()) keyPattern.put(k.getKey(), k.isAscending() ? 1 : -1);
        ixscan.put("keyPattern", keyPattern);
        ixscan.put("indexName", plan.index.getName());
        ixscan.put("isMultiKey", plan.index instanceof OrderedIndex<?> o && o.anyMultikey());
        ixscan.put("isUnique", plan.index.isUnique());
        ixscan.put("direction", plan.reverse ? "backward" : "forward");
        ixscan.put("equalityKeys", plan.equalities);
        ixscan.put("ranges", plan.unique ? plan.uniquePositions.size() : plan.bounds.size());
        ixscan.put("keysExamined", plan.stats.keys);
        return ixscan;
    }

    /** The `explain` command for find, count, distinct, update, delete and findAndModify. */
    static Document explainCommand(Function<String, Host<?>> collections, Document command) {
        Document inner = (Document) command.get("explain");
        String verb = inner.keySet().iterator().next();
        Object name = inner.get(verb);
        Document filter;
        Document sort = null;
        int skip = 0, limit = 0;
        switch (verb.toLowerCase()) {
            case "find" -> {
                filter = (Document) inner.getOrDefault("filter", new Document());
                sort = (Document) inner.get("sort");
                skip = ((Number) inner.getOrDefault("skip", 0)).intValue();
                limit = Math.abs(((Number) inner.getOrDefault("limit", 0)).intValue());
            }
            case "count", "distinct" -> filter = (Document) inner.getOrDefault("query", new Document());
            case "findandmodify" -> {
                filter = (Document) inner.getOrDefault("query", new Document());
                sort = (Document) inner.get("sort");
                limit = 1;
            }
            case "update", "delete" -> {
                List<?> ops = (List<?>) inner.get(verb.equals("update") ? "updates" : "deletes");
                Document op = (Document) ops.get(0);
                filter = (Document) op.getOrDefault("q", new Document());
                boolean multi = verb.equals("update") ? Boolean.TRUE.equals(op.get("multi"))
                    : ((Number) op.getOrDefault("limit", 0)).intValue() == 0;
                limit = multi ? 0 : 1;
            }
            default -> throw new IllegalArgumentException("explain of " + verb + " is not supported by the stand-in");
        }
        Host<?> host = collections.apply(String.valueOf(name));
        if (host == null) {
            Document planner = new Document("winningPlan", new Document("stage", "EOF")).append("rejectedPlans", new ArrayList<>());
            Document stats = new Document("nReturned", 0).append("totalKeysExamined", 0).append("totalDocsExamined", 0);
            return new Document("queryPlanner", planner).append("executionStats", stats).append("ok", 1.0);
        }
        synchronized (host) {
            return explain(host, filter, sort, skip, limit);
        }
    }
}
