"""``smoothcert list`` and ``smoothcert radius``: the registered theorems, and their radii for given
bounds with the noise parameters read from flags generated from the declared noise families."""

from __future__ import annotations

from ..core.errors import BadInput
from .common import EXIT_OK, Formatter, check_int, check_positive, floats, user_value


# ---------------------------------------------------------------------------------------------
# list
def add_list(sub):
    p = sub.add_parser(
        "list",
        help="list the registered certificates",
        formatter_class=Formatter,
        description="List every registered certificate with its norm, tightness and citation.\n\n"
        "example:\n  smoothcert list",
    )
    p.set_defaults(func=_run_list)


def _run_list(args) -> int:
    from ..bounds import certificate_class, certificates

    rows = []
    for name in certificates():
        cls = certificate_class(name)
        rows.append((name, cls.norm, "tight" if cls.tight else "", cls.citation))
    w = max(len(r[0]) for r in rows)
    for name, norm, tight, cit in rows:
        print(f"{name:<{w}}  {norm:<4}  {tight:<5}  {cit}")
    return EXIT_OK


# ---------------------------------------------------------------------------------------------
# radius
#: How a declared parameter's ``kind`` (bounds/family.py ``Param``) is read from the command line.
_KIND_TYPES = {"real": float, "reals": floats, "int": int}


def _flag(param: str) -> str:
    """The option of a noise-family parameter: ``half_width`` -> ``--half-width``."""
    return "--" + param.replace("_", "-")


def add_radius(sub):
    from ..bounds.family import family_params

    declared = family_params()
    p = sub.add_parser(
        "radius",
        help="certified radius of every (or selected) certificate for given pA, pB",
        formatter_class=Formatter,
        description=(
            "Print the certified radius (and the region summary of anisotropic certificates)\n"
            "for bounds pA (top class) and pB (runner-up; omit for the binary case pB = 1 - pA).\n"
            "Noise is matched by its per-coordinate standard deviation --std unless a family's\n"
            "own parameter is given; each certificate receives the parameters its noise family\n"
            "declares (" + ", ".join(_flag(n) for n in declared) + ").\n\n"
            "examples:\n"
            "  smoothcert radius --pa 0.99 --sigma 0.5\n"
            "  smoothcert radius --pa 0.9 --pb 0.05 --std 0.5 --dim 784\n"
            "  smoothcert radius --pa 0.99 --cert teng-laplace-l1 --scale 0.35"
        ),
    )
    p.add_argument("--pa", type=float, required=True, help="lower bound on the top-class probability")
    p.add_argument("--pb", type=float, default=None, help="upper bound on the runner-up (default: 1 - pA)")
    p.add_argument("--std", type=floats, default=None,
                   help="per-coordinate noise standard deviation used to match every family (default 0.5)")
    p.add_argument("--dim", type=int, default=None,
                   help="input dimension: the shape of anisotropic noise and regions"
                        + (f"; {declared['dim'].help}" if "dim" in declared else ""))
    for name, par in declared.items():
        if name != "dim":
            default = "" if par.required else f" (family default {par.default!r})"
            p.add_argument(_flag(name), dest=f"noise_{name}", metavar=name.upper(), type=_KIND_TYPES[par.kind], default=None,
                           help=f"{par.help}{default}")
    p.add_argument("--cert", action="append", default=None, help="certificate name (repeatable; default all)")
    p.set_defaults(func=_run_radius)


def _given_noise_params(args) -> dict:
    """The noise-family parameters given on the command line, by parameter name."""
    given = {k[len("noise_"):]: v for k, v in vars(args).items() if k.startswith("noise_") and v is not None}
    if args.dim is not None:
        given["dim"] = args.dim
    return given


def _check_radius_args(args, classes) -> dict:
    """The options of ``radius`` for the selected certificate classes (exit 2 before any work):
    --std finite and > 0, --dim >= 1, a possible (pA, pB) pair; each given noise parameter
    declared by a selected certificate's family and meeting that family's constraint, a list
    for an anisotropic certificate's scale one entry per coordinate of --dim. Returns the given
    noise parameters (cleaned values not kept: each family cleans its own)."""
    from ..bounds.family import noise_family
    from ..core.checks import check_probability_pair

    check_positive("--std", args.std)
    if isinstance(args.std, list) and args.dim is not None and len(args.std) != args.dim:
        raise BadInput(f"--std has {len(args.std)} entries but --dim is {args.dim}")
    check_int("--dim", args.dim, 1)
    user_value("--pa/--pb", check_probability_pair, args.pa, args.pb)
    given = _given_noise_params(args)
    families = {cls.family: noise_family(cls.family) for cls in classes}
    for name, value in given.items():
        owners = [f for f in families.values() if name in f.param_names()]
        if not owners and name != "dim":
            raise BadInput(f"{_flag(name)} is not a parameter of the selected certificates' noise "
                           f"families ({', '.join(sorted(families))})")
        if name != "dim":  # --dim is also the shape hint; a family that needs more refuses it below
            _accepted_by_one(name, value, owners)
        per_coordinate = any(c.isotropic_counterpart and families[c.family].scale_param == name for c in classes)
        if isinstance(value, list) and args.dim is not None and per_coordinate and len(value) != args.dim:
            raise BadInput(f"{_flag(name)} has {len(value)} entries but --dim is {args.dim}")
    return given


def _accepted_by_one(name: str, value, owners) -> None:
    """BadInput naming the flag unless one of the declaring families' constraints accepts
    ``value`` (a list that only some take, --sigma 0.5,0.25, is refused by the others' certificates
    one by one: skipped, or exit 2 when named)."""
    errors = []
    for fam in owners:
        try:
            fam.param(name).constraint(name, value)
            return
        except (ValueError, TypeError) as exc:
            errors.append(exc)
    raise BadInput(f"{_flag(name)}: {errors[0]}") from errors[0]


def _radius_certificate(cls, std, args, given):
    """(certificate, None), or (None, why) when a family does not fit the options (a list where it
    takes a scalar, Zhang's k < dim >= 2, a parameter without default that was not given). A
    certificate named with --cert that does not fit is bad input; one not named is skipped with
    the reason."""
    from ..bounds.family import noise_family

    fam = noise_family(cls.family)
    own = {k: v for k, v in given.items() if k in fam.param_names() and k != "dim"}  # dim: below
    try:
        return cls.from_std(std, dim=args.dim, **own), None
    except ValueError as exc:
        if args.cert:
            raise BadInput(f"--cert {cls.name}: {exc}") from exc
        return None, str(exc)


def _run_radius(args) -> int:
    from ..bounds import certificate_class, certificates

    names = args.cert or certificates()
    classes = [user_value("--cert", certificate_class, name) for name in names]
    given = _check_radius_args(args, classes)
    std = args.std if args.std is not None else 0.5
    print(f"pA = {args.pa!r}, pB = {'1 - pA' if args.pb is None else repr(args.pb)}")
    for name, cls in zip(names, classes):
        if cls.binary_only and args.pb is not None:
            print(f"{name:<26} (binary theorem: skipped for a given pB)")
            continue
        cert, why = _radius_certificate(cls, std, args, given)
        if cert is None:
            print(f"{name:<26} skipped: {why}")
            continue
        r = cert.radius(args.pa, args.pb)
        line = f"{name:<26} {cert.norm:<4} R = {r!r:<24}"
        try:
            reg = cert.region(args.pa, args.pb)
        except NotImplementedError:
            reg = None
        if reg is not None and getattr(reg, "dim", None) is not None:
            line += (f" region: gap={reg.gap:.6g} enclosed={reg.enclosed_radius():.6g} "
                     f"proxy={reg.proxy_radius():.6g} log-volume={reg.log_volume():.6g}")
        print(line)
    return EXIT_OK
