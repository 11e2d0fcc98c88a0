// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {IOracle} from "../../interfaces/IOracle.sol";

/// @title The correlation-aware joint loss L_ρ and scan risk of SPEC v2 §6 (docs/CORRELATION.md §3, §8).
/// @notice An external library: its public functions are deployed once and linked (DELEGATECALL),
///         so the engine pays a call stub instead of the ~6.6 KB below.
/// @dev Inputs per held underlying u (at most 4): the engine's 31 scenario P&Ls P_u(j) (wad USD;
///      only the 27 standard ones are read), and the feed's ρ per pair (wad, in [−1, 1]), in the
///      order (0,1), (0,2), …, (0,n−1), (1,2), …, (n−2,n−1) of the underlyings. Steps:
///        majorants  y(m) = −P_u(9v + 4 ± 4m), b = y(1) − y(0), a = max_m (y(m) − b·m)
///        ρ_s        = max(2ρ − 1, 0.75ρ) for ρ ≥ 0, max(1.25ρ, −1) for ρ < 0, held exactly as
///                     g = 4e18·ρ_s (an integer)
///        PSD repair ρ_s' = (1 − t)ρ_s + tI, t = −λ_min / (1 − λ_min) for n ≥ 3 when λ_min < 0: the
///                     shift c* = −4e18·λ_min is bracketed to 1 unit (2.5e-19 in λ) by Newton's
///                     method on exact integer determinants, and ρ_s' = g / (4e18 + c*)
///        L_ρ        = max(0, max over sign patterns σ and vol states v of Σ_u a + min(‖w‖, ‖w⁺‖)),
///                     w_u = σ_u·b_u, w⁺_u = w_u if b_u > 0 else 0, ‖w‖ = sqrt(wᵀ ρ_s' w)
///        SR         = min(Σ L_u, max(L_J + (1 − c_max)(Σ L_u − L_J), L_ρ)),  c_max = 0.8
///      Rounding: every figure is rounded so that L_ρ and SR are never below their exact values
///      (margin rounded up, against the account); each line says how. The exact ρ_s' is not a
///      wad number (its c* is irrational), so each correlation enters the quadratic form as an
///      interval [lo, hi] (wad) that contains it, and every cross term takes the end that makes
///      it larger.
library JointLossLib {
    // --- Constants ---
    uint256 internal constant MAX_UNDERLYINGS = 4;           // n covered by the design      [count]
    int256 internal constant WAD = 1e18;
    int256 internal constant RHO_SCALE = 4e18;               // g = RHO_SCALE·ρ_s is an integer
    uint256 internal constant CREDIT_CAP = 0.8e18;           // c_max (EMIR RTS art. 27(4))   [wad]
    /// @dev |b| below 2^B_BITS keeps every product of the quadratic form in int256 (b² < 2^192,
    ///      hi·b_u·b_w < 2^60·2^192); larger b are scaled down by a power of two (`_scaleBits`).
    uint256 internal constant B_BITS = 96;
    /// @dev Every P_u(j) read lies in [−2^240, 2^240) (wad USD): see `majorants`.
    int256 internal constant PNL_BOUND = 2 ** 240;

    // --- Errors ---
    /// @dev More underlyings than the design covers (2ⁿ·3 orthants, n×n determinants).
    error TooManyUnderlyings(uint256 n, uint256 max);
    /// @dev `given` correlations for n underlyings, which need n(n − 1)/2 (`expected`).
    error CorrelationCountMismatch(uint256 n, uint256 given, uint256 expected);
    /// @dev Correlation `rho` of pair number `pair` (input order) lies outside [−1e18, 1e18].
    error CorrelationOutOfRange(uint256 pair, int256 rho);
    /// @dev Scenario P&L `pnl` of underlying number `u` at scenario j lies outside [−2^240, 2^240).
    error PnlOutOfRange(uint256 u, uint256 j, int256 pnl);
    /// @dev L_J above Σ L_u cannot come from one set of scenario P&Ls.
    error JointLossAboveSum(uint256 jointLoss, uint256 sumLoss);

    // --- Scan risk (SPEC v2 §6) ---

    /// @notice SR = min(Σ L_u, max(L_J + 0.2(Σ L_u − L_J), L_ρ)) and L_ρ.          [wad USD]
    /// @param pnl Each held underlying's 31 scenario P&Ls P_u(j), as MarginLib builds them [wad USD]
    /// @param rho The feed's ρ of each pair of those underlyings, in pair order (see @dev)   [wad]
    /// @param sumLoss Σ_u L_u                                                          [wad USD]
    /// @param jointLoss L_J of the comonotone grid                                     [wad USD]
    function scanRisk(int256[31][] memory pnl, int256[] memory rho, uint256 sumLoss, uint256 jointLoss)
        public
        pure
        returns (uint256 sr, uint256 lossRho)
    {
        if (jointLoss > sumLoss) revert JointLossAboveSum(jointLoss, sumLoss);
        lossRho = correlatedLoss(pnl, rho);
        // (c) floor: at most c_max of Σ L_u − L_J credited; the credit rounded down (floor up)
        uint256 floor_ = jointLoss + Math.mulDiv(sumLoss - jointLoss, 1e18 - CREDIT_CAP, 1e18, Math.Rounding.Ceil);
        sr = lossRho > floor_ ? lossRho : floor_;
        // (b) cap: never above the isolated sum
        if (sr > sumLoss) sr = sumLoss;
    }

    /// @notice `scanRisk` with ρ read from the oracle: the fresh correlation of every pair of the
    ///         account's correlation set, the underlyings of `feeds` (the rows of `pnl`, in its
    ///         order) whose P_u is not 0 in every scenario. Above MAX_UNDERLYINGS of them no
    ///         credit: (Σ L_u, 0). Reverts `IOracle.StaleCorrelation` when a pair's ρ is stale or
    ///         was never reported (SPEC §3: an operation that needs a feed reverts when it is
    ///         stale).                                                            [wad USD]
    /// @dev SPEC v2 §6, decided (attack 13, SECURITY.md): an underlying the account's P&L does not
    ///      move with (an expired series awaiting its settle call) contributes nothing to any
    ///      joint move, so it leaves the set. Otherwise its mere presence would change the other
    ///      pairs' credit through the PSD repair and the 4-underlying limit, and a stranger's
    ///      `settle` could raise a healthy account's IM.
    function scanRiskOf(
        int256[31][] memory pnl,
        uint256[] memory feeds,
        IOracle oracle,
        uint256 sumLoss,
        uint256 jointLoss
    ) public view returns (uint256 sr, uint256 lossRho) {
        uint256 n; // the correlation set, compacted to the front of `pnl` and `feeds`
        for (uint256 u; u < feeds.length; ++u) {
            if (_isZero(pnl[u])) continue;
            pnl[n] = pnl[u];
            feeds[n++] = feeds[u];
        }
        if (n > MAX_UNDERLYINGS) return (sumLoss, 0);
        assembly {
            mstore(pnl, n)
            mstore(feeds, n)
        }
        int256[] memory rho = new int256[](n < 2 ? 0 : n * (n - 1) / 2);
        uint256 p; // the next pair's index in `rho`
        for (uint256 u; u < n; ++u) {
            for (uint256 w = u + 1; w < n; ++w) {
                (rho[p++],) = oracle.freshCorrelation(feeds[u], feeds[w]);
            }
        }
        return scanRisk(pnl, rho, sumLoss, jointLoss);
    }

    /// @dev Whether all 31 scenario P&Ls of one underlying are 0.
    function _isZero(int256[31] memory pu) private pure returns (bool) {
        for (uint256 j; j < 31; ++j) {
            if (pu[j] != 0) return false;
        }
        return true;
    }

    /// @notice L_ρ: an upper bound of the largest loss over the ρ_s' ellipse (CORRELATION.md §3). [wad USD]
    function correlatedLoss(int256[31][] memory pnl, int256[] memory rho) public pure returns (uint256) {
        uint256 n = pnl.length;
        if (n > MAX_UNDERLYINGS) revert TooManyUnderlyings(n, MAX_UNDERLYINGS);
        uint256 pairs = n < 2 ? 0 : n * (n - 1) / 2;
        if (rho.length != pairs) revert CorrelationCountMismatch(n, rho.length, pairs);
        int256[6] memory g;
        for (uint256 p; p < pairs; ++p) {
            if (rho[p] > WAD || rho[p] < -WAD) revert CorrelationOutOfRange(p, rho[p]);
            g[p] = stressed(rho[p]);
        }
        (int256 cLo, int256 cHi) = repairShift(g, n);
        Ctx memory c;
        (c.hi, c.lo) = correlationBounds(g, pairs, cLo, cHi);
        (c.a, c.b) = majorants(pnl);
        c.n = n;
        (c.k, c.slack) = _scaleBits(c.b, n);
        return uint256(_maxOverOrthants(c));
    }

    // --- Steps (internal: the test harness exposes them) ---

    /// @dev g = 4e18·ρ_s for ρ in wad: max(8ρ − 4e18, 3ρ) for ρ ≥ 0, max(5ρ, −4e18) below: exact.
    function stressed(int256 rho) internal pure returns (int256 g) {
        if (rho >= 0) {
            int256 twice = 8 * rho - RHO_SCALE; // 4e18·(2ρ − 1)
            int256 most = 3 * rho; //              4e18·0.75ρ
            g = twice > most ? twice : most;
        } else {
            int256 deeper = 5 * rho; //            4e18·1.25ρ
            g = deeper > -RHO_SCALE ? deeper : -RHO_SCALE;
        }
    }

    /// @dev The affine majorants a + b·m of each side's loss, at index v·8 + u·2 + s (vol state v,
    ///      s = 0 down, 1 up): y_i = −P_u(9v + 4 ∓ i), b = y_4 − y_0 (exact), a = max_i (y_i − b·i/4)
    ///      with b·i/4 rounded toward −∞, so a is rounded up, by < 1 wei.  [wad USD, wad USD per R_u]
    ///      Reverts `PnlOutOfRange` unless −2^240 ≤ P_u(j) < 2^240 (the engine's are < 2^233: |q| < 2^100,
    ///      |ΔV| < 2^128, ≤ 16 series and a linear leg), which bounds everything below.
    function majorants(int256[31][] memory pnl) internal pure returns (int256[24] memory a, int256[24] memory b) {
        for (uint256 u; u < pnl.length; ++u) {
            int256[31] memory p = pnl[u];
            bool out;
            for (uint256 v; v < 3; ++v) {
                out = _sides(p, 9 * v + 4, a, b, v * 8 + u * 2) || out;
            }
            if (out) {
                for (uint256 j; j < 27; ++j) {
                    if (p[j] < -PNL_BOUND || p[j] >= PNL_BOUND) revert PnlOutOfRange(u, j, p[j]);
                }
            }
        }
    }

    /// @dev Both sides around centre index c: (a, b) of the down side at a[k], b[k], of the up
    ///      side at a[k + 1], b[k + 1]. y_i = −p[c ∓ i]; b = y4 − y0; a = max(y0, y1 − ⌊b/4⌋,
    ///      y2 − ⌊b/2⌋, y3 − ⌊3b/4⌋) (y4 − b = y0); `sar` rounds toward −∞, which raises a.
    ///      `out`: one of the 9 points lies outside [−2^240, 2^240) (then a and b are not used).
    function _sides(int256[31] memory p, uint256 c, int256[24] memory a, int256[24] memory b, uint256 k)
        private
        pure
        returns (bool out)
    {
        // no overflow: |y| ≤ 2^240 once the range holds, so |b| ≤ 2^241 and every candidate
        // < 2^242; indices c ± 4 lie in 0..26 and k + 1 < 24
        assembly ("memory-safe") {
            // x in [−2^240, 2^240)  ⟺  (x + 2^240) >> 241 = 0 (as unsigned)
            let range := 0
            let centre := add(p, shl(5, c))
            let x := mload(centre)
            range := or(range, add(x, shl(240, 1)))
            let y0 := sub(0, x)
            for { let s := 0 } lt(s, 2) { s := add(s, 1) } {
                let step := sub(shl(6, s), 0x20) // −32 (down) or +32 (up) bytes
                x := mload(add(centre, shl(2, step)))
                range := or(range, add(x, shl(240, 1)))
                let bs := sub(sub(0, x), y0) //                                        y4 − y0
                let am := y0
                x := mload(add(centre, step))
                range := or(range, add(x, shl(240, 1)))
                let t := sub(sub(0, x), sar(2, bs)) //                                  y1 − ⌊b/4⌋
                if sgt(t, am) { am := t }
                x := mload(add(centre, shl(1, step)))
                range := or(range, add(x, shl(240, 1)))
                t := sub(sub(0, x), sar(1, bs)) //                                      y2 − ⌊b/2⌋
                if sgt(t, am) { am := t }
                x := mload(add(centre, mul(3, step)))
                range := or(range, add(x, shl(240, 1)))
                t := sub(sub(0, x), add(bs, sar(2, sub(0, bs)))) //                     y3 − ⌊3b/4⌋
                if sgt(t, am) { am := t }
                let slot := shl(5, add(k, s))
                mstore(add(a, slot), am)
                mstore(add(b, slot), bs)
            }
            out := iszero(iszero(shr(241, range)))
        }
    }

    /// @dev The PSD repair's shift: c* = −4e18·λ_min(ρ_s) (0 when ρ_s is PSD or n ≤ 2) lies in
    ///      [cLo, cHi] (cLo = cHi when exact, else cHi = cLo + 1; 1 unit is 2.5e-19 of λ).
    ///      ρ_s is PSD iff every principal minor of g is ≥ 0 (the 1×1 and 2×2 ones are: |g| ≤ 4e18).
    ///      Otherwise c* is the largest root of f(c) = det(g + cI) = Π(c + 4e18·λ_i), all roots real.
    ///      Newton from the right never passes it: f/f' = 1/Σ 1/(c − r_i) ≤ c − c*, so with the step
    ///      rounded down every iterate stays ≥ c*; and f/f' ≥ (c − c*)/n, so once the step rounds to
    ///      0, c* > c − n, which ≤ 2 exact tests of positive definiteness narrow to one unit. The
    ///      start, Gershgorin's bound, is positive definite. Determinants are exact integers: no
    ///      rounding decides anything here.
    function repairShift(int256[6] memory g, uint256 n) internal pure returns (int256 cLo, int256 cHi) {
        if (n < 3 || _psdAtZero(g, n)) return (0, 0);
        int256 c = _gershgorin(g, n);
        while (true) {
            (int256 f, int256 df) = _charPoly(g, n, c);
            if (f == 0) return (c, c); // an iterate ≥ c* where f vanishes is c* itself
            int256 step = f / df; // f, f' > 0 right of every root: rounded down
            if (step == 0) break;
            c -= step;
        }
        // c* ∈ (c − n, c), and c* > 0 (not PSD at 0)
        cHi = c;
        cLo = c > int256(n) ? c - int256(n) : int256(0);
        while (cHi - cLo > 1) {
            int256 mid = (cLo + cHi) / 2;
            if (_positiveDefinite(g, n, mid)) cHi = mid;
            else cLo = mid;
        }
    }

    /// @dev Every 3×3 and 4×4 principal minor of g (pairs in input order) is ≥ 0.
    function _psdAtZero(int256[6] memory g, uint256 n) private pure returns (bool) {
        if (n == 3) return det3(RHO_SCALE, g[0], g[1], g[2]) >= 0;
        // n = 4, pairs (01, 02, 03, 12, 13, 23)
        return det3(RHO_SCALE, g[0], g[1], g[3]) >= 0 && det3(RHO_SCALE, g[0], g[2], g[4]) >= 0
            && det3(RHO_SCALE, g[1], g[2], g[5]) >= 0 && det3(RHO_SCALE, g[3], g[4], g[5]) >= 0
            && det4(RHO_SCALE, g) >= 0;
    }

    /// @dev The least c with g + cI strictly diagonally dominant (so positive definite): the
    ///      largest row sum of |g| off the diagonal, less 4e18, plus 1. ≤ (n − 2)·4e18 + 1.
    function _gershgorin(int256[6] memory g, uint256 n) private pure returns (int256 c) {
        // rows of the pairs (01, 02, 12) for n = 3, (01, 02, 03, 12, 13, 23) for n = 4
        int256[4] memory row;
        uint256 p;
        for (uint256 u; u < n; ++u) {
            for (uint256 w = u + 1; w < n; ++w) {
                int256 m = g[p] >= 0 ? g[p] : -g[p];
                row[u] += m;
                row[w] += m;
                ++p;
            }
        }
        for (uint256 u; u < n; ++u) {
            if (row[u] > c) c = row[u];
        }
        c = c - RHO_SCALE + 1;
    }

    /// @dev f(c) = det(g + cI) and f'(c) = the sum of its (n − 1)×(n − 1) principal minors.
    function _charPoly(int256[6] memory g, uint256 n, int256 c) private pure returns (int256 f, int256 df) {
        int256 d = RHO_SCALE + c;
        if (n == 3) {
            f = det3(d, g[0], g[1], g[2]);
            // no overflow: d ≤ 1.2e19, |g| ≤ 4e18
            unchecked {
                df = 3 * d * d - g[0] * g[0] - g[1] * g[1] - g[2] * g[2];
            }
        } else {
            f = det4(d, g);
            df = det3(d, g[0], g[1], g[3]) + det3(d, g[0], g[2], g[4]) + det3(d, g[1], g[2], g[5])
                + det3(d, g[3], g[4], g[5]);
        }
    }

    /// @dev g + c·I is positive definite, for c ≥ 1 (its 1×1 and 2×2 leading minors then are > 0).
    function _positiveDefinite(int256[6] memory g, uint256 n, int256 c) private pure returns (bool) {
        int256 d = RHO_SCALE + c;
        if (n == 3) return det3(d, g[0], g[1], g[2]) > 0;
        return det3(d, g[0], g[1], g[3]) > 0 && det4(d, g) > 0;
    }

    /// @dev det [[d, x, y], [x, d, z], [y, z, d]] = d³ + 2xyz − d(x² + y² + z²).
    function det3(int256 d, int256 x, int256 y, int256 z) internal pure returns (int256) {
        // no overflow: callers pass 0 < d ≤ 1.2e19 + 1 and |x|, |y|, |z| ≤ 4e18 (every term < 2^192)
        unchecked {
            return d * d * d + 2 * x * y * z - d * (x * x + y * y + z * z);
        }
    }

    /// @dev det of the symmetric 4×4 with diagonal d and off-diagonals g = (g01, g02, g03, g12, g13,
    ///      g23), by Laplace along rows 0, 1 (2×2 minors times their complements in rows 2, 3).
    function det4(int256 d, int256[6] memory g) internal pure returns (int256) {
        return _laplaceFirst(d, g[0], g[1], g[2], g[3], g[4], g[5]) + _laplaceLast(d, g[0], g[1], g[2], g[3], g[4], g[5]);
    }

    /// @dev Columns (0,1), (0,2), (0,3) of rows 0, 1 times their complements.
    function _laplaceFirst(int256 d, int256 g01, int256 g02, int256 g03, int256 g12, int256 g13, int256 g23)
        private
        pure
        returns (int256)
    {
        // no overflow: callers pass 0 < d ≤ 1.2e19 + 1 (c ≤ 8e18 + 1) and |g| ≤ 4e18; the six
        // products' magnitudes then sum to < 4.4e76 < 2^255 (the largest, (d² − g01²)(d² − g23²),
        // < 2.1e76), so no partial sum overflows either
        unchecked {
            return (d * d - g01 * g01) * (d * d - g23 * g23) - (d * g12 - g02 * g01) * (g12 * d - g23 * g13)
                + (d * g13 - g03 * g01) * (g12 * g23 - d * g13);
        }
    }

    /// @dev Columns (1,2), (1,3), (2,3) of rows 0, 1 times their complements.
    function _laplaceLast(int256 d, int256 g01, int256 g02, int256 g03, int256 g12, int256 g13, int256 g23)
        private
        pure
        returns (int256)
    {
        // no overflow: as `_laplaceFirst`
        unchecked {
            return (g01 * g12 - g02 * d) * (g02 * d - g23 * g03) - (g01 * g13 - g03 * d) * (g02 * g23 - d * g03)
                + (g02 * g13 - g03 * g12) * (g02 * g13 - g12 * g03);
        }
    }

    /// @dev The interval [lo, hi] (wad) holding each repaired correlation g/(4e18 + c*) for c* in
    ///      [cLo, cHi]: the far ends of the interval, each rounded outward (hi up, lo down).
    function correlationBounds(int256[6] memory g, uint256 pairs, int256 cLo, int256 cHi)
        internal
        pure
        returns (int256[6] memory hi, int256[6] memory lo)
    {
        uint256 dLo = uint256(RHO_SCALE + cLo);
        uint256 dHi = uint256(RHO_SCALE + cHi);
        for (uint256 p; p < pairs; ++p) {
            uint256 mag = uint256(g[p] >= 0 ? g[p] : -g[p]) * 1e18; // ≤ 4e36
            if (g[p] >= 0) {
                hi[p] = int256(Math.ceilDiv(mag, dLo)); // largest at the least shift, rounded up
                lo[p] = int256(mag / dHi); //               least at the largest shift, rounded down
            } else {
                hi[p] = -int256(mag / dHi); //              nearest 0 at the largest shift, rounded up
                lo[p] = -int256(Math.ceilDiv(mag, dLo)); // farthest at the least shift, rounded down
            }
        }
    }

    // --- The orthants ---

    /// @dev What the orthant search reads (memory: one pointer on the stack).
    struct Ctx {
        int256[24] a;               // majorant intercepts, index v·8 + u·2 + s       [wad USD]
        int256[24] b;               // majorant slopes, same index                [wad USD per R_u]
        int256[6] hi;               // upper end of each repaired correlation          [wad]
        int256[6] lo;               // lower end                                        [wad]
        uint256 n;                  // underlyings                                      [count]
        uint256 k;                  // low bits dropped from every b (`_scaleBits`)     [bits]
        int256 slack;               // added to a scaled norm: n if k > 0, else 0       [2^k wad USD]
        int256[16] bound;           // U = Σ_u (a + max(b, 0)) of each orthant, one vol state [wad USD]
        int256[4] w;                // w̃ = σ_u·(b_u >> k) of the orthant being evaluated [2^k wad USD]
    }

    /// @dev max(0, max over σ and v of Σ_u a + min(‖w‖, ‖w⁺‖)), every piece rounded up.   [wad USD]
    ///      Two exact shortcuts: an orthant whose U = Σ_u (a + max(b, 0)) ≤ `best` is skipped, as
    ///      its exact bound is ≤ Σ a + ‖w⁺‖ ≤ U (triangle inequality, ‖unit vector‖ = 1), so `best`
    ///      stays ≥ the exact L_ρ; per vol state the orthant of largest U goes first. And the square
    ///      root is taken only when the candidate can beat `best`.
    function _maxOverOrthants(Ctx memory c) private pure returns (int256 best) {
        // no overflow: |a| < 2^242, so |Σ a|, |U| < 2^244; q < 2^197 (`_orthant`), √q < 2^99 and
        // 2^k ≤ 2^145 (|b| < 2^241), so every candidate and `best − Σ a` stay below 2^246
        unchecked {
            for (uint256 v; v < 3; ++v) {
                uint256 start = _edges(c, v);
                for (uint256 i; i < (1 << c.n); ++i) {
                    uint256 m = i ^ start;
                    if (c.bound[m] <= best) continue;
                    (int256 sumA, int256 q) = _orthant(c, v, m);
                    // Skip the square root unless A + (⌈√q⌉ + slack)·2^k beats `best`: it does not
                    // iff ⌈√q⌉ ≤ ⌊(best − A)/2^k⌋ − slack =: r, i.e. r ≥ 0 and q ≤ r² (q < 2^197 ≤ r²
                    // once r ≥ 2^99)
                    int256 gap = best - sumA;
                    if (gap >= 0) {
                        int256 r = (gap >> c.k) - c.slack;
                        if (r >= 0 && (r >= 2 ** 99 || q <= r * r)) continue;
                    }
                    // the norm rounded up: ⌈√q⌉, plus the scaling's slack, times 2^k
                    int256 cand = sumA + (int256(Math.sqrt(uint256(q), Math.Rounding.Ceil)) + c.slack) * int256(1 << c.k);
                    if (cand > best) best = cand;
                }
            }
        }
    }

    /// @dev k = how many low bits of every b to drop so that max |b| >> k < 2^96 (0 if it already is),
    ///      and the slack n added to the scaled norm when k > 0: b = 2^k·b̃ + e with 0 ≤ e < 2^k, and
    ///      ‖w‖ ≤ 2^k‖w̃‖ + Σ|e_u| < 2^k(‖w̃‖ + n) (triangle inequality; ‖unit vector‖ = 1 under a PSD
    ///      unit-diagonal ρ'), likewise for w⁺.
    function _scaleBits(int256[24] memory b, uint256 n) private pure returns (uint256 k, int256 slack) {
        uint256 most;
        // no overflow: |b| < 2^241
        assembly ("memory-safe") {
            for { let v := 0 } lt(v, 3) { v := add(v, 1) } {
                let bv := add(b, shl(8, v))
                for { let i := 0 } lt(i, shl(1, n)) { i := add(i, 1) } {
                    let x := mload(add(bv, shl(5, i)))
                    if slt(x, 0) { x := sub(0, x) }
                    if gt(x, most) { most := x }
                }
            }
        }
        if (most >> B_BITS == 0) return (0, 0);
        k = Math.log2(most) + 1 - B_BITS;
        slack = int256(n);
    }

    /// @dev Fills c.bound for vol state v (U(m) = Σ_u e(u, s_u), e = a + max(b, 0)) and returns the
    ///      orthant taking each underlying's side of larger e.
    function _edges(Ctx memory c, uint256 v) private pure returns (uint256 start) {
        int256[24] memory a = c.a;
        int256[24] memory b = c.b;
        int256[16] memory bound = c.bound;
        uint256 n = c.n;
        // no overflow: |a| < 2^242, |b| ≤ 2^241, so |U| < 2^245
        assembly ("memory-safe") {
            let off := shl(8, v) // 8v words
            let u0 := 0 //          U of orthant 0 (every underlying down)
            mstore(bound, 0) //     the table holds U(m) − U(0) until the last loop
            for { let u := 0 } lt(u, n) { u := add(u, 1) } {
                let slot := add(off, shl(6, u)) // (u, down)
                let e0 := mload(add(a, slot))
                let x := mload(add(b, slot))
                if sgt(x, 0) { e0 := add(e0, x) }
                let e1 := mload(add(a, add(slot, 0x20)))
                x := mload(add(b, add(slot, 0x20)))
                if sgt(x, 0) { e1 := add(e1, x) }
                u0 := add(u0, e0)
                // U(m) = U(m without bit u) + e1 − e0 for every m whose highest bit is u
                let delta := sub(e1, e0)
                let bit := shl(u, 1)
                for { let m := bit } lt(m, shl(1, bit)) { m := add(m, 1) } {
                    mstore(add(bound, shl(5, m)), add(mload(add(bound, shl(5, sub(m, bit)))), delta))
                }
                if sgt(delta, 0) { start := or(start, bit) }
            }
            for { let m := 0 } lt(m, shl(n, 1)) { m := add(m, 1) } {
                let q := add(bound, shl(5, m))
                mstore(q, add(mload(q), u0))
            }
        }
    }

    /// @dev Orthant m of vol state v: A = Σ a, and min(Q, Q⁺), Q = w̃ᵀρ'w̃ and Q⁺ = w̃⁺ᵀρ'w̃⁺ with
    ///      every cross term rounded up, taking the end of its correlation's interval that makes it
    ///      larger. Q ≥ the exact w̃ᵀρ_s'w̃ ≥ 0 (ρ_s' PSD), likewise Q⁺.  [wad USD, (2^k wad USD)²]
    function _orthant(Ctx memory c, uint256 v, uint256 m) private pure returns (int256 sumA, int256 q) {
        (int256 qPlus, uint256 kept) = (0, 0);
        (sumA, q, qPlus, kept) = _diagonal(c, v, m);
        (int256 dq, int256 dqPlus) = _cross(c, kept);
        // no overflow: n ≤ 4 squares < 2^192 and 6 doubled cross terms < 2^193
        unchecked {
            q += dq;
            qPlus += dqPlus;
        }
        if (qPlus < q) q = qPlus;
    }

    /// @dev Σ a, Σ b̃² over w and over w⁺, the underlyings kept in w⁺ (chord b > 0), and c.w.
    function _diagonal(Ctx memory c, uint256 v, uint256 m)
        private
        pure
        returns (int256 sumA, int256 q, int256 qPlus, uint256 kept)
    {
        int256[24] memory a = c.a;
        int256[24] memory b = c.b;
        int256[4] memory w = c.w;
        uint256 n = c.n;
        uint256 k = c.k;
        // no overflow: |a| < 2^242; |b̃| < 2^96 so b̃² < 2^192
        assembly ("memory-safe") {
            let off := shl(8, v) // 8v words
            for { let u := 0 } lt(u, n) { u := add(u, 1) } {
                let s := and(shr(u, m), 1)
                let slot := add(off, shl(5, add(shl(1, u), s)))
                sumA := add(sumA, mload(add(a, slot)))
                let bu := mload(add(b, slot))
                let bt := sar(k, bu) // b̃ = ⌊b / 2^k⌋
                let sq := mul(bt, bt)
                q := add(q, sq)
                if sgt(bu, 0) {
                    qPlus := add(qPlus, sq)
                    kept := or(kept, shl(u, 1))
                }
                if iszero(s) { bt := sub(0, bt) } // σ = −1 on the down side
                mstore(add(w, shl(5, u)), bt)
            }
        }
    }

    /// @dev Σ over pairs of 2·⌈r·w̃_u w̃_w / 1e18⌉, r = hi if the product is ≥ 0 else lo, over w and
    ///      over the pairs kept in w⁺.                                               [(2^k wad USD)²]
    function _cross(Ctx memory c, uint256 kept) private pure returns (int256 dq, int256 dqPlus) {
        int256[6] memory hi = c.hi;
        int256[6] memory lo = c.lo;
        int256[4] memory w = c.w;
        uint256 n = c.n;
        // no overflow: |w̃_u w̃_w| < 2^192 and |r| ≤ 1e18 < 2^60
        assembly ("memory-safe") {
            let p := 0
            for { let u := 0 } lt(u, n) { u := add(u, 1) } {
                let wu := mload(add(w, shl(5, u)))
                for { let x := add(u, 1) } lt(x, n) { x := add(x, 1) } {
                    let prod := mul(wu, mload(add(w, shl(5, x))))
                    let r := mload(add(hi, shl(5, p)))
                    if slt(prod, 0) { r := mload(add(lo, shl(5, p))) }
                    let num := mul(r, prod)
                    // ⌈num / 1e18⌉: sdiv truncates toward 0, already up for num < 0
                    let z := shl(1, add(sdiv(num, WAD), and(sgt(num, 0), iszero(iszero(smod(num, WAD))))))
                    dq := add(dq, z)
                    if and(and(shr(u, kept), shr(x, kept)), 1) { dqPlus := add(dqPlus, z) }
                    p := add(p, 1)
                }
            }
        }
    }
}
