"""The planted world of a synthetic Strikeback-like case: offices, cells, agents, identifiers.

Everything here is invented: names come from short lists of common names, identifiers are
random but well-formed (Luhn-valid ICCIDs starting 8963, IMEIs and test-BIN card numbers,
Philippine mobile numbers). A :class:`World` draws one cell at a time from a single
``random.Random`` so that the same seed always yields the same world, and nothing is kept
that a streaming writer does not need again (a few small reservoirs for cross-cell links).

>>> world = World(seed=7, cells=4, noise=0.0)
>>> cell = world.new_cell(0)
>>> 5 <= len(cell.agents) <= 30 and cell.cell_id
'C-0001'
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = [
    "CONTACT_PLATFORMS",
    "PLATFORMS",
    "RAID_REGIONS",
    "VICTIM_COUNTRIES",
    "Account",
    "Agent",
    "Card",
    "Cell",
    "Device",
    "Mule",
    "Office",
    "Sim",
    "Victim",
    "Wallet",
    "World",
    "cell_size",
]

# Raid regions of Operation Strikeback and towns in each, with approximate town coordinates.
RAID_REGIONS: tuple[tuple[str, str, tuple[tuple[str, float, float], ...]], ...] = (
    ("BCL", "Bicol", (("Naga City", 13.6218, 123.1948), ("Legazpi City", 13.1391, 123.7438),
                      ("Iriga City", 13.4231, 123.4121), ("Sorsogon City", 12.9742, 124.0058))),
    ("BUL", "Bulacan", (("Malolos", 14.8527, 120.8160), ("Meycauayan", 14.7369, 120.9608),
                        ("San Jose del Monte", 14.8139, 121.0453), ("Baliwag", 14.9545, 120.8966))),
    ("LAG", "Laguna", (("Santa Rosa", 14.3122, 121.1114), ("Calamba", 14.2117, 121.1653),
                       ("San Pablo", 14.0683, 121.3256), ("Biñan", 14.3036, 121.0781))),
    ("TAG", "Taguig City", (("Taguig City", 14.5176, 121.0509),)),
)

#: Platform display names (as the evidence spells them) and their weights for persona accounts.
PLATFORMS: tuple[tuple[str, float], ...] = (
    ("Facebook", 0.34), ("Instagram", 0.18), ("Skype", 0.2), ("Snapchat", 0.1), ("LINE", 0.08),
    ("WhatsApp", 0.1),
)
#: Platforms on which agents make first contact with victims.
CONTACT_PLATFORMS = frozenset({"Facebook", "Instagram", "Skype", "Snapchat", "LINE"})

#: Victim countries of the case (name as written in reports, weight, police agency).
VICTIM_COUNTRIES: tuple[tuple[str, str, float, str], ...] = (
    ("GB", "United Kingdom", 0.2, "Police Scotland"),
    ("US", "United States", 0.2, "FBI"),
    ("HK", "Hong Kong", 0.12, "Hong Kong Police Force"),
    ("SG", "Singapore", 0.1, "Singapore Police Force"),
    ("ID", "Indonesia", 0.08, "POLRI"),
    ("MY", "Malaysia", 0.08, "PDRM"),
    ("AU", "Australia", 0.1, "Australian Federal Police"),
    ("KR", "South Korea", 0.06, "Korean National Police Agency"),
    ("PH", "Philippines", 0.06, "PNP-ACG"),
)

_PLATFORM_NAMES = tuple(p for p, _ in PLATFORMS)
_PLATFORM_CUM = tuple(itertools.accumulate(w for _, w in PLATFORMS))
_COUNTRY_CUM = tuple(itertools.accumulate(w for _, _, w, _ in VICTIM_COUNTRIES))

_PH_GIVEN_M = ("Juan", "Jose", "Mark", "John Paul", "Rommel", "Jerome", "Ryan", "Carlo",
               "Paolo", "Miguel", "Kevin", "Arnel", "Dennis", "Joel", "Ramon", "Christian")
_PH_GIVEN_F = ("Maria", "Kristine", "Jennifer", "Mary Grace", "Rowena", "Janine", "Liza",
               "Angelica", "Joy", "Cherry", "Rachelle", "Bea", "Camille", "Lovely")
_PH_SURNAMES = ("Santos", "Reyes", "Cruz", "Bautista", "Ocampo", "Garcia", "Mendoza", "Torres",
                "Villanueva", "Ramos", "Aquino", "Castillo", "De Leon", "Dela Cruz", "Navarro",
                "Soriano", "Manalo", "Pascual", "Salazar", "Gonzales", "Lopez", "Flores")
_ALIASES = ("Boss", "Ate", "Kuya", "Jun", "Bong", "Tisoy", "Bebot", "Pogi", "Neneng", "Dodong",
            "Ganda", "Toto")
_PERSONA_F = ("jessica", "angel", "nicole", "sarah", "kim", "anne", "bianca", "trisha", "mika",
              "sophia", "chloe", "hannah", "lyka", "yna")
_PERSONA_M = ("james", "ethan", "marco", "daniel", "adrian", "lucas", "ken", "ivan")
_PERSONA_SURNAMES = ("lim", "tan", "santos", "reyes", "cruz", "go", "chua", "villa", "lee",
                     "rivera", "sy", "ong", "perez", "yu")
_DISPLAY_FLOURISH = ("", "", "", " <3", " ♥", " xoxo", " 💋", " =)")
_EMAIL_DOMAINS = ("yahoo.com", "gmail.com", "ymail.com", "outlook.com", "hotmail.com")

_VICTIM_NAMES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "GB": (("Oliver", "Jack", "Harry", "Callum", "Liam", "Ewan"), ("Smith", "Brown", "Wilson",
                                                                   "Campbell", "Taylor")),
    "US": (("Michael", "Tyler", "Jacob", "Brandon", "Ethan", "Noah"), ("Johnson", "Miller",
                                                                       "Davis", "Moore")),
    "HK": (("Ka-ho", "Wing", "Chun", "Man-kit"), ("Chan", "Wong", "Leung", "Cheung")),
    "SG": (("Wei Jie", "Jun Hao", "Arjun", "Hakim"), ("Tan", "Ng", "Lim", "Goh")),
    "ID": (("Budi", "Agus", "Rizky", "Dimas"), ("Santoso", "Wijaya", "Saputra", "Hidayat")),
    "MY": (("Ahmad", "Wei Ming", "Hafiz", "Ravi"), ("Abdullah", "Lee", "Ismail", "Kumar")),
    "AU": (("Jack", "Cooper", "Lachlan", "Riley"), ("Williams", "Jones", "Martin", "White")),
    "KR": (("Min-jun", "Seo-jun", "Ji-hoon", "Hyun-woo"), ("Kim", "Lee", "Park", "Choi")),
    "PH": (("Rafael", "Angelo", "Jericho", "Mark"), ("Santiago", "Fernandez", "Rivera", "Tan")),
}

# (prefix, carrier, MNC used in ICCID/IMSI) for Philippine mobile numbers.
_PH_MOBILE = (
    ("917", "Globe", "02"), ("915", "Globe", "02"), ("926", "Globe", "02"),
    ("927", "Globe", "02"), ("935", "Globe", "02"), ("945", "Globe", "02"),
    ("995", "Globe", "02"), ("918", "Smart", "03"), ("919", "Smart", "03"),
    ("920", "Smart", "03"), ("921", "Smart", "03"), ("928", "Smart", "03"),
    ("939", "Smart", "03"), ("999", "Smart", "03"), ("922", "Sun", "05"),
    ("923", "Sun", "05"), ("932", "Sun", "05"), ("942", "Sun", "05"),
)
# (make, model, 8-digit type allocation code) — invented TACs.
_PHONE_MODELS = (
    ("Samsung", "Galaxy S4 GT-I9500", "35331806"), ("Samsung", "Galaxy Y GT-S5360", "35290704"),
    ("Nokia", "Asha 310", "35917905"), ("Cherry Mobile", "Flare", "86711301"),
    ("MyPhone", "A848i Duo", "86230602"), ("Apple", "iPhone 5s", "35854205"),
    ("O+", "8.12", "86802901"), ("Lenovo", "A369i", "86490702"),
)
_LAPTOPS = (("HP", "Pavilion g4", "5CB"), ("Acer", "Aspire E1", "NXM"),
            ("Lenovo", "IdeaPad G480", "PF0"), ("Asus", "X450C", "E2N"))
# Public test BINs (never issued to real cardholders).
_TEST_BINS = ("400000", "411111", "424242", "401288", "510510", "555555", "222300", "520082")
_OFFICE_ISP_PREFIXES = ("112.198.", "122.3.", "49.145.", "180.190.", "124.6.")
_CARRIER_PUBLIC_PREFIXES = ("120.28.", "110.54.", "112.210.", "175.176.")
_ALNUM = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"


def _with_check_digit(body: str) -> str:
    """``body`` followed by the digit that makes it Luhn-valid.

    >>> from ringmap.graphs.normalise import luhn_valid
    >>> _with_check_digit("411111111111111"), luhn_valid(_with_check_digit("8963021234"))
    ('4111111111111111', True)
    """
    # with the check digit appended, the body's last digit is the first one doubled
    total = 0
    for i, ch in enumerate(reversed(body)):
        digit = ord(ch) - 48
        if i % 2 == 0:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return body + str(-total % 10)


def cell_size(rng: random.Random) -> int:
    """A cell's agent count: skewed, 5-30, most between 8 and 20.

    >>> sizes = [cell_size(random.Random(i)) for i in range(200)]
    >>> min(sizes) >= 5 and max(sizes) <= 30
    True
    """
    return min(30, max(5, round(rng.lognormvariate(math.log(13.0), 0.35))))


@dataclass(slots=True)
class Office:
    """A call-centre style office (raid site)."""

    index: int
    location_id: str
    name: str
    region: str
    city: str
    lat: float
    lon: float
    wifi_ips: list[str]
    raid_time: int


@dataclass(slots=True)
class Sim:
    """A SIM card and the mobile number it carries (E.164)."""

    iccid: str
    imsi: str
    msisdn: str
    carrier: str


@dataclass(slots=True)
class Device:
    """A phone (IMEI) or laptop (serial) and the SIMs that sat in it."""

    device_id: str
    kind: str
    make: str
    model: str
    sims: list[Sim] = field(default_factory=list)


@dataclass(slots=True)
class Card:
    """A mule's payment card: a Luhn-valid synthetic number from a test BIN."""

    pan: str
    kind: str


@dataclass(slots=True)
class Wallet:
    """A mule's e-wallet (GCash, PayMaya) by its national mobile number."""

    provider: str
    number: str


@dataclass(slots=True)
class Mule:
    """A money recipient who holds cards and wallets that victims pay into."""

    mule_id: str
    name: str
    cards: list[Card]
    wallets: list[Wallet]


@dataclass(slots=True)
class Agent:
    """A blackmail agent of one cell."""

    index: int
    agent_id: str
    surname: str
    given: str
    alias: str
    gender: str
    birth_year: int
    home_ip: str
    arrested: bool
    identified: bool
    accounts: list[Account] = field(default_factory=list)


@dataclass(slots=True)
class Account:
    """A persona account run by an agent: platform, canonical handle, registration, devices."""

    index: int
    platform: str
    handle: str
    display_name: str
    created: int
    phone: Sim | None
    email: str | None
    devices: list[Device]
    logins: int
    owner: Agent


@dataclass(slots=True)
class Cell:
    """A cell of agents working together from one office, with its shared identifiers."""

    index: int
    cell_id: str
    office: Office
    agents: list[Agent]
    accounts: list[Account]
    sims: list[Sim]
    devices: list[Device]
    emails: list[str]
    mules: list[Mule]
    start: int
    #: accounts of agents from earlier cells who later worked here (noise: agents changing cell)
    movers: list[Account] = field(default_factory=list)


@dataclass(slots=True)
class Victim:
    """A victim: pseudonymous id, country and the account an agent contacted."""

    victim_id: str
    name: str
    age: int
    gender: str
    country: str
    country_name: str
    platform: str
    handle: str


# 2013-06-01 and 2014-04-29 00:00 UTC: the activity window before the raids.
_WINDOW_START = 1370044800
_RAID_DAY = 1398816000
_DAY = 86400


class World:
    """Draws offices, cells and victims deterministically from one seed.

    Parameters
    ----------
    seed
        Seed of the one random stream everything is drawn from.
    cells
        Number of cells the case will have (sets the number of offices and hub pools).
    noise
        Noise level in [0, 1]; here it scales resold devices and agents changing cell.
    """

    def __init__(self, seed: int, cells: int, noise: float) -> None:
        self.seed = seed
        self.rng = random.Random(seed)
        self.noise = noise
        self._taken: set[str] = set()
        self._next = {"agent": 0, "account": 0, "mule": 0, "victim": 0}
        self.offices = [self._office(i) for i in range(max(min(cells, 4), math.ceil(cells / 3)))]
        pool = 48 + cells * 2
        self.cgnat_ips = [self._fresh(self._cgnat_ip) for _ in range(pool)]
        self._recent_devices: list[Device] = []
        self._recent_agents: list[Agent] = []
        self.recent_victims: list[Victim] = []

    # identifiers -------------------------------------------------------------------------

    def _fresh(self, make: Callable[[], str]) -> str:
        """A value from ``make`` not drawn before in this world."""
        while True:
            value = make()
            if value not in self._taken:
                self._taken.add(value)
                return value

    def _digits(self, n: int) -> str:
        return str(self.rng.randrange(10**n)).zfill(n)

    def _count(self, kind: str) -> int:
        self._next[kind] += 1
        return self._next[kind]

    def reference(self, prefix: str, digits: int) -> str:
        """A reference number (payment, report, document) not drawn before in this world."""
        return self._fresh(lambda: prefix + self._digits(digits))

    def _cgnat_ip(self) -> str:
        rng = self.rng
        if rng.random() < 0.6:  # RFC 6598 shared address space behind carrier NAT
            return f"100.{rng.randrange(64, 128)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
        prefix = rng.choice(_CARRIER_PUBLIC_PREFIXES)
        return f"{prefix}{rng.randrange(256)}.{rng.randrange(1, 255)}"

    def _public_ip(self) -> str:
        prefix = self.rng.choice(_OFFICE_ISP_PREFIXES)
        return f"{prefix}{self.rng.randrange(256)}.{self.rng.randrange(1, 255)}"

    def _sim(self) -> Sim:
        prefix, carrier, mnc = self.rng.choice(_PH_MOBILE)
        msisdn = self._fresh(lambda: f"+63{prefix}{self._digits(7)}")
        iccid = self._fresh(lambda: _with_check_digit(f"8963{mnc}{self._digits(12)}"))
        imsi = self._fresh(lambda: f"515{mnc}{self._digits(10)}")
        return Sim(iccid=iccid, imsi=imsi, msisdn=msisdn, carrier=carrier)

    def _phone_device(self) -> Device:
        make, model, tac = self.rng.choice(_PHONE_MODELS)
        imei = self._fresh(lambda: _with_check_digit(tac + self._digits(6)))
        return Device(device_id=imei, kind="mobile phone", make=make, model=model)

    def _laptop(self) -> Device:
        make, model, prefix = self.rng.choice(_LAPTOPS)
        serial = self._fresh(
            lambda: prefix + "".join(self.rng.choice(_ALNUM) for _ in range(7)))
        return Device(device_id=serial, kind="laptop", make=make, model=model)

    def _card(self) -> Card:
        pan = self._fresh(
            lambda: _with_check_digit(self.rng.choice(_TEST_BINS) + self._digits(9)))
        return Card(pan=pan, kind=self.rng.choice(("ATM card", "ATM card", "credit card")))

    def _wallet(self) -> Wallet:
        prefix = self.rng.choice(_PH_MOBILE)[0]
        number = self._fresh(lambda: f"0{prefix}{self._digits(7)}")
        return Wallet(provider=self.rng.choice(("GCash", "GCash", "PayMaya")), number=number)

    def _ph_name(self, gender: str) -> tuple[str, str]:
        given = self.rng.choice(_PH_GIVEN_M if gender == "M" else _PH_GIVEN_F)
        return given, self.rng.choice(_PH_SURNAMES)

    def _handle(self, first: str, last: str) -> str:
        return self._fresh(lambda: self._handle_pattern(first, last))

    def _handle_pattern(self, first: str, last: str) -> str:
        # a fresh pattern on every try: the short patterns run out in big cases
        rng = self.rng
        pattern = int(rng.random() * 5)
        if pattern == 0:
            return f"{first}.{last}.{rng.randrange(10, 99)}"
        if pattern == 1:
            return f"{first}_{last}{rng.randrange(1, 999)}"
        if pattern == 2:
            return f"{first}{last}{rng.randrange(80, 99)}"
        if pattern == 3:
            return f"its.{first}.{rng.randrange(1, 9999)}"
        return f"{first}.{last}{rng.randrange(1000, 99999)}"

    # offices, cells ----------------------------------------------------------------------

    def _office(self, i: int) -> Office:
        code, region, towns = RAID_REGIONS[i % len(RAID_REGIONS)]
        town, lat, lon = towns[(i // len(RAID_REGIONS)) % len(towns)]
        rng = self.rng
        raid = _RAID_DAY + _DAY * (1 + i % 3) + 3600 * 5 + 60 * rng.randrange(0, 120)
        return Office(
            index=i,
            location_id=f"RS-{code}-{i + 1:03d}",
            name=f"{town} call centre {i // len(RAID_REGIONS) + 1}",
            region=region,
            city=town,
            lat=round(lat + rng.uniform(-0.02, 0.02), 5),
            lon=round(lon + rng.uniform(-0.02, 0.02), 5),
            wifi_ips=[self._fresh(self._public_ip) for _ in range(rng.randint(1, 2))],
            raid_time=raid,
        )

    def new_cell(self, index: int) -> Cell:
        """Draw cell ``index``: its agents, shared SIMs, devices, emails, mules and accounts."""
        rng = self.rng
        office = self.offices[index % len(self.offices)]
        size = cell_size(rng)
        start = _WINDOW_START + rng.randrange(0, 150) * _DAY
        sims = [self._sim() for _ in range(max(3, size // 2 + rng.randint(0, 3)))]
        devices = [self._phone_device() for _ in range(max(2, size // 3 + rng.randint(0, 2)))]
        devices += [self._laptop() for _ in range(rng.randint(1, 3))]
        phones = [d for d in devices if d.kind == "mobile phone"]
        for sim in sims:
            for device in rng.sample(phones, min(len(phones), rng.randint(1, 2))):
                device.sims.append(sim)
        emails = [self._fresh(self._persona_email) for _ in range(2 + size // 5)]
        mules = [self._mule() for _ in range(rng.randint(2, 4))]
        agents = [self._agent() for _ in range(size)]
        cell = Cell(index=index, cell_id=f"C-{index + 1:04d}", office=office, agents=agents,
                    accounts=[], sims=sims, devices=devices, emails=emails, mules=mules,
                    start=start)
        for agent in agents:
            self.accounts_of(agent, cell)
        self._cross_cell_noise(cell)
        return cell

    def _persona_email(self) -> str:
        first = self.rng.choice(_PERSONA_F + _PERSONA_M)
        last = self.rng.choice(_PERSONA_SURNAMES)
        return f"{first}.{last}{self.rng.randrange(1, 9999)}@{self.rng.choice(_EMAIL_DOMAINS)}"

    def _mule(self) -> Mule:
        rng = self.rng
        given, surname = self._ph_name(rng.choice("MF"))
        cards = [self._card() for _ in range(rng.randint(0, 2))]
        wallets = [self._wallet() for _ in range(rng.randint(0 if cards else 1, 2))]
        return Mule(mule_id=f"MU-{self._count('mule'):05d}", name=f"{given} {surname}",
                    cards=cards, wallets=wallets)

    def _agent(self) -> Agent:
        rng = self.rng
        gender = "F" if rng.random() < 0.45 else "M"
        given, surname = self._ph_name(gender)
        n = self._count("agent")
        return Agent(
            index=n, agent_id=f"AG-{n:05d}", surname=surname, given=given,
            alias=rng.choice(_ALIASES), gender=gender, birth_year=rng.randint(1984, 1996),
            home_ip=self._fresh(self._public_ip), arrested=rng.random() < 0.35,
            identified=rng.random() < 0.85,
        )

    def accounts_of(self, agent: Agent, cell: Cell) -> None:
        """Draw 2-4 persona accounts for ``agent`` working in ``cell``."""
        rng = self.rng
        taken = {a.handle for a in cell.accounts if a.platform == "WhatsApp"}
        free_sims = [s for s in cell.sims if s.msisdn[1:] not in taken]
        chosen: list[str] = []
        for _ in range(rng.randint(2, 4)):
            platform = rng.choices(_PLATFORM_NAMES, cum_weights=_PLATFORM_CUM)[0]
            if platform in chosen or (platform == "WhatsApp" and not free_sims):
                continue
            chosen.append(platform)
            persona_f = rng.random() < 0.8
            first = rng.choice(_PERSONA_F if persona_f else _PERSONA_M)
            last = rng.choice(_PERSONA_SURNAMES)
            phone = rng.choice(cell.sims) if rng.random() < 0.7 else None
            if platform == "WhatsApp":  # a WhatsApp account is its SIM's number
                phone = free_sims.pop(rng.randrange(len(free_sims)))
                handle = phone.msisdn[1:]
            elif platform == "Skype":
                handle = "live:" + self._handle(first, last)
            else:
                handle = self._handle(first, last)
            account = Account(
                index=self._count("account"), platform=platform, handle=handle,
                display_name=f"{first.title()} {last.title()}{rng.choice(_DISPLAY_FLOURISH)}",
                created=cell.start + rng.randrange(0, 60) * _DAY + rng.randrange(_DAY),
                phone=phone,
                email=rng.choice(cell.emails) if rng.random() < 0.6 else None,
                devices=rng.sample(cell.devices, min(len(cell.devices), rng.randint(1, 3))),
                logins=rng.randint(4, 16), owner=agent,
            )
            agent.accounts.append(account)
            cell.accounts.append(account)

    def _cross_cell_noise(self, cell: Cell) -> None:
        """Resold devices and agents changing cell: links to earlier cells that are not truth."""
        rng = self.rng
        for device in self._recent_devices:
            if rng.random() < 0.08 * self.noise / 4:
                rng.choice(cell.accounts).devices.append(device)
        for agent in self._recent_agents:
            if rng.random() < 0.04 * self.noise / 4:
                cell.movers.extend(agent.accounts)
        # keep about four cells' worth of devices and agents for the cells that follow
        self._recent_devices = [*self._recent_devices, *cell.devices][-4 * len(cell.devices):]
        self._recent_agents = [*self._recent_agents, *cell.agents][-4 * len(cell.agents):]

    # victims -----------------------------------------------------------------------------

    def new_victim(self, platform: str) -> Victim:
        """A new victim reached on ``platform``."""
        rng = self.rng
        code, name, _, _ = rng.choices(VICTIM_COUNTRIES, cum_weights=_COUNTRY_CUM)[0]
        given_names, surnames = _VICTIM_NAMES[code]
        given, surname = rng.choice(given_names), rng.choice(surnames)
        handle = self._handle(given.lower().replace(" ", "").replace("-", ""), surname.lower())
        if platform == "Skype":
            handle = "live:" + handle
        age = 15 + min(45, int(rng.expovariate(1 / 9.0)))
        victim = Victim(
            victim_id=f"V-{self._count('victim'):06d}", name=f"{given} {surname}", age=age,
            gender="M" if rng.random() < 0.85 else "F", country=code, country_name=name,
            platform=platform, handle=handle,
        )
        self.recent_victims = [*self.recent_victims[-199:], victim]
        return victim
