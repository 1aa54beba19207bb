// The order of index keys: MongoDB's BSON type order (null/missing, numbers, strings, objects,
// arrays, binary, ObjectId, bool, date, timestamp, regex), numbers compared by exact value
// whatever their type (int, long and double are one bracket), plus the sentinels the ordered
// index uses to express range and type-bracket bounds.

import de.bwaldvogel.mongo.backend.Missing;
import de.bwaldvogel.mongo.backend.ValueComparator;
import de.bwaldvogel.mongo.bson.BinData;
import de.bwaldvogel.mongo.bson.BsonRegularExpression;
import de.bwaldvogel.mongo.bson.BsonTimestamp;
import de.bwaldvogel.mongo.bson.Decimal128;
import de.bwaldvogel.mongo.bson.Document;
import de.bwaldvogel.mongo.bson.LegacyUUID;
import de.bwaldvogel.mongo.bson.MaxKey;
import de.bwaldvogel.mongo.bson.MinKey;
import de.bwaldvogel.mongo.bson.ObjectId;
import java.math.BigDecimal;
import java.time.Instant;
import java.util.Collection;
import java.util.UUID;
import java.util.regex.Pattern;

final class KeyOrder {

    private KeyOrder() {}

    static final int NULL = 1, NUMBER = 2, STRING = 3, OBJECT = 4, ARRAY = 5, BINARY = 6,
        OBJECT_ID = 7, BOOL = 8, DATE = 9;

    /** Below every key, or above every key (in index order, i.e. after the direction applies). */
    enum Edge { MIN, MAX }

    /** The start (low) or end (high) of one type bracket, in value order. */
    record Bracket(int rank, boolean high) {}

    static int rank(Object v) {
        if (v == null || v instanceof Missing) return NULL;
        if (v instanceof MinKey) return 0;
        if (v instanceof Number) return NUMBER;
        if (v instanceof String) return STRING;
        if (v instanceof Document) return OBJECT;
        if (v instanceof Collection) return ARRAY;
        if (v instanceof BinData || v instanceof LegacyUUID || v instanceof UUID) return BINARY;
        if (v instanceof ObjectId) return OBJECT_ID;
        if (v instanceof Boolean) return BOOL;
        if (v instanceof Instant) return DATE;
        if (v instanceof BsonTimestamp) return 10;
        if (v instanceof BsonRegularExpression || v instanceof Pattern) return 11;
        if (v instanceof MaxKey) return 12;
        return BINARY;
    }

    /** Value order (ascending). Brackets compare by rank; inside their rank they sit at the edge. */
    static int compare(Object a, Object b) {
        if (a instanceof Bracket x) {
            if (b instanceof Bracket y) {
                int c = Integer.compare(x.rank(), y.rank());
                return c != 0 ? c : Boolean.compare(x.high(), y.high());
            }
            int c = Integer.compare(x.rank(), rank(b));
            return c != 0 ? c : (x.high() ? 1 : -1);
        }
        if (b instanceof Bracket) return -compare(b, a);
        int ra = rank(a), rb = rank(b);
        if (ra != rb) return Integer.compare(ra, rb);
        switch (ra) {
            case NULL: return 0;
            case NUMBER: return compareNumbers((Number) a, (Number) b);
            case STRING: return ((String) a).compareTo((String) b);
            default:
                try {
                    return ValueComparator.ascWithoutListHandling().compare(a, b);
                } catch (RuntimeException e) {
                    return a.toString().compareTo(b.toString());
                }
        }
    }

    private static boolean integral(Number n) {
        return n instanceof Integer || n instanceof Long || n instanceof Short || n instanceof Byte;
    }

    static int compareNumbers(Number a, Number b) {
        if (integral(a) && integral(b)) return Long.compare(a.longValue(), b.longValue());
        double da = a.doubleValue(), db = b.doubleValue();
        if (da == db && !(a instanceof Long || b instanceof Long)) return 0; // also -0.0 == 0.0
        if (Double.isNaN(da) || Double.isNaN(db) || Double.isInfinite(da) || Double.isInfinite(db)
                || a instanceof Decimal128 || b instanceof Decimal128) {
            if (da == db) return 0;
            return Double.compare(da, db);
        }
        return exact(a).compareTo(exact(b));
    }

    private static BigDecimal exact(Number n) {
        return integral(n) ? BigDecimal.valueOf(n.longValue()) : new BigDecimal(n.doubleValue());
    }

    /** Values the index can look up by equality with the same answer as the query matcher. */
    static boolean pointable(Object v) {
        if (v == null) return true;
        if (v instanceof Decimal128) return false;
        return v instanceof Number || v instanceof String || v instanceof Boolean
            || v instanceof ObjectId || v instanceof Instant;
    }

    /** Bounds for $gt/$gte/$lt/$lte: the matcher compares only inside one type bracket. */
    static boolean rangeable(Object v) {
        return v != null && pointable(v) && !(v instanceof Double d && d.isNaN());
    }
}
